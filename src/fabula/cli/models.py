"""`fabula models`: which engines are installed, which models they find, and whether each works."""

from __future__ import annotations

import importlib.util
import json
from typing import Any

import click

from fabula.settings import Settings, get_settings


def _installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


def engine_report(settings: Settings) -> list[dict[str, Any]]:
    from fabula.errors import ConfigError
    from fabula.models import DEFAULT_MODEL_NAME, default_model_path

    try:
        default: str | None = str(default_model_path())
        default_problem = ""
    except ConfigError as exc:
        default, default_problem = None, str(exc)
    converted = (
        sorted(p.name for p in (settings.home / "cache" / "converted").glob("*") if p.is_dir())
        if (settings.home / "cache" / "converted").is_dir()
        else []
    )
    rows = [
        {
            "engine": "llamacpp",
            "installed": _installed("xllamacpp", "gguf"),
            "models": [f"{DEFAULT_MODEL_NAME} (default): {default}"] if default else [],
            "usable": _installed("xllamacpp", "gguf") and default is not None,
            "note": default_problem or "any GGUF file with --model PATH",
        },
        {
            "engine": "hf",
            "installed": _installed("torch", "transformers"),
            "models": ([f"{DEFAULT_MODEL_NAME} (default, dequantized on first use)"] if default else [])
            + [f"cached: {name}" for name in converted],
            "usable": _installed("torch", "transformers", "gguf") and default is not None,
            "note": "any Hugging Face model folder with --model DIR",
        },
        _gpt_row(settings),
        _openai_row(settings),
        {
            "engine": "fake",
            "installed": True,
            "models": ["fake-sample", "echo"],
            "usable": True,
            "note": "scripted, for tests and demos",
        },
    ]
    return rows


def _gpt_row(settings: Settings) -> dict[str, Any]:
    from fabula.gpt.registry import DEFAULT_GPT, SHIPPED, available

    found = available(settings.home)
    return {
        "engine": "gpt",
        "installed": _installed("torch", "transformers", "safetensors"),
        "models": [
            f"{name}{' (default)' if name == DEFAULT_GPT else ''}{' (shipped)' if path.parent == SHIPPED else ''}: "
            f"{path}"
            for name, path in found.items()
        ],
        "usable": _installed("torch", "transformers", "safetensors") and bool(found),
        "note": "our own GPTs: fabula train pretrain writes them to FABULA_HOME/models",
    }


def _openai_row(settings: Settings) -> dict[str, Any]:
    import httpx

    row: dict[str, Any] = {"engine": "openai", "installed": True, "models": [], "usable": False}
    headers = {"Authorization": f"Bearer {settings.openai_api_key}"} if settings.openai_api_key else {}
    try:
        reply = httpx.get(settings.openai_base_url.rstrip("/") + "/models", headers=headers, timeout=1.5)
        reply.raise_for_status()
        row["models"] = [m.get("id", "?") for m in reply.json().get("data", [])]
        row["usable"] = True
        row["note"] = f"server at {settings.openai_base_url}"
    except (httpx.HTTPError, ValueError) as exc:
        row["note"] = f"no server at {settings.openai_base_url} ({type(exc).__name__}); set FABULA_OPENAI_BASE_URL"
    return row


@click.command()
@click.option("--json", "as_json", is_flag=True)
def models(as_json: bool) -> None:
    """Engines, the models each can find, and whether each is usable here."""
    rows = engine_report(get_settings())
    if as_json:
        click.echo(json.dumps(rows))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("engine", "installed", "usable", "models", "note")
    for r in rows:
        table.add_row(
            r["engine"],
            "yes" if r["installed"] else "no",
            "yes" if r["usable"] else "no",
            "\n".join(r["models"]) or "-",
            r["note"],
        )
    Console().print(table)
