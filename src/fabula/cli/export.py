"""`fabula export` and `fabula inspect attention`: our GPT out to other engines, and looked into."""

from __future__ import annotations

import json
from pathlib import Path

import click

from fabula.settings import get_settings


@click.command("export")
@click.argument("model")
@click.option("--format", "fmt", type=click.Choice(["hf", "gguf"]), required=True)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder (hf) or .gguf file (gguf).")
def export(model: str, fmt: str, out: Path) -> None:
    """Export a fabula GPT (a folder or a registry name) to Hugging Face or GGUF, losslessly (float32)."""
    from fabula.gpt.export import export_gguf, export_hf
    from fabula.gpt.registry import resolve_gpt

    folder = resolve_gpt(model, get_settings().ensure_home())
    path = export_hf(folder, out) if fmt == "hf" else export_gguf(folder, out)
    click.echo(str(path))


@click.group()
def inspect() -> None:
    """Look inside a model."""


@inspect.command("attention")
@click.option("--model", "model", default="", help="A fabula GPT folder or registry name (default tang-poems).")
@click.option("--text", required=True, help="The text whose attention to draw.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="PNG file.")
@click.option("--layer", type=int, help="Only this layer (with --head: one large map with token labels).")
@click.option("--head", type=int, help="Only this head.")
@click.option("--json", "as_json", is_flag=True)
def attention(model: str, text: str, out: Path, layer: int | None, head: int | None, as_json: bool) -> None:
    """Heat maps of softmax(q kᵀ/√d) per layer and head: row = query token, column = key token."""
    from fabula.gpt.inspect import plot_attention
    from fabula.gpt.registry import resolve_gpt

    home = get_settings().ensure_home()
    result = plot_attention(resolve_gpt(model, home), text, out, home, layer=layer, head=head)
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(f"{result['path']}: {result['tokens']} tokens, layers {result['layers']}, heads {result['heads']}")
