"""`fabula watermark detect FILE`: is this text marked with our watermark key?"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from fabula.cli.render import notice
from fabula.settings import get_settings


def load_tokenizer(model: str) -> Any:
    """The tokenizer of the model that wrote the text: a GGUF (default: the embedded model) or a
    Hugging Face folder. Detection needs nothing else of the model."""
    from transformers import AutoTokenizer

    from fabula.models import resolve_gguf

    folder = Path(model) if model else None
    if folder is not None and folder.is_dir():
        return AutoTokenizer.from_pretrained(folder)
    path = resolve_gguf(model)  # a ConfigError names what was not found
    return AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)


@click.group()
def watermark() -> None:
    """The green-list watermark (Kirchenbauer et al. 2023) that `fabula write --watermark` adds."""


@watermark.command("detect")
@click.argument("source", type=click.File("r", encoding="utf-8"))
@click.option("--model", default="", help="The model that wrote it (its tokenizer is used); default: the embedded one.")
@click.option("--json", "as_json", is_flag=True, help='One JSON object: {"z": float, "watermarked": bool, ...}.')
def detect(source: Any, model: str, as_json: bool) -> None:
    """Score SOURCE (a file, or - for stdin): the z-score of its green tokens and a verdict (z >= 4)."""
    from fabula.errors import InvalidParam
    from fabula.responsible.watermark import detect as run_detect
    from fabula.responsible.watermark import load_or_create_key

    text = source.read()
    if not text.strip():
        raise InvalidParam("FILE", source.name, "the text is empty; give the file of a written work")
    settings = get_settings()
    key = load_or_create_key(settings.watermark_key, settings.ensure_home())
    report = run_detect(text, load_tokenizer(model or settings.model), key)
    if as_json:
        click.echo(json.dumps(report))
        return
    verdict = "watermarked" if report["watermarked"] else "not watermarked"
    click.echo(
        f"{verdict}: z = {report['z']} ({report['green']} of {report['scored']} token pairs green, "
        f"{report['green_share']:.0%} against {report['gamma']:.0%} expected; "
        f"threshold z >= {report.get('threshold', 4.0)})"
    )
    if report["scored"] < 50:
        notice("note: fewer than 50 token pairs; short texts rarely reach a verdict")
