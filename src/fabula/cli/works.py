"""`fabula works list|show|export`: browse and export saved works."""

from __future__ import annotations

import json
from pathlib import Path

import click

from fabula.cli.render import notice
from fabula.settings import get_settings


def _store():  # type: ignore[no-untyped-def]
    from fabula.store.works import WorkStore

    return WorkStore(get_settings().db_url)


@click.group()
def works() -> None:
    """Saved works and their provenance."""


@works.command("list")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--form", help="Only this form.")
@click.option("--json", "as_json", is_flag=True)
def list_works(limit: int, form: str | None, as_json: bool) -> None:
    """The newest works first."""
    rows = _store().list(limit=limit, form=form)
    if as_json:
        click.echo(json.dumps([{k: v for k, v in r.items() if k != "text"} for r in rows], ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Column, Table

    table = Table("form", "created (UTC)", "words", "engine", "prompt")
    table.columns.insert(0, Column("id", no_wrap=True, min_width=20))
    for r in rows:
        created = r["created_at"][:16].replace("T", " ")
        table.add_row(r["id"], r["form"], created, str(r["words"]), r["engine"], r["prompt"][:50])
    Console().print(table if rows else "no works yet: try `fabula write story`")


@works.command("show")
@click.argument("work_id")
@click.option("--json", "as_json", is_flag=True)
def show(work_id: str, as_json: bool) -> None:
    """One work: its text, candidates, verdicts and provenance."""
    data = _store().get(work_id)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    click.echo(data["text"])
    click.echo()
    for i, cand in enumerate(data["candidates"]):
        mark = "*" if cand["chosen"] else " "
        failed = [v["check"] for v in cand["verdicts"] if not v["passed"]]
        click.echo(f"{mark} candidate {i + 1}: {cand['scores']}" + (f"  failed: {failed}" if failed else ""))
    click.echo(json.dumps(data["provenance"], ensure_ascii=False, indent=2))


@works.command("export")
@click.argument("work_id")
@click.option(
    "--format", "fmt", help="md, txt, json, or a format of the work's form (ink, yarn, ...); default: from -o's suffix."
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File (default: stdout).")
def export(work_id: str, fmt: str | None, output: Path | None) -> None:
    """Export a work in the format its file's suffix names: Markdown (with provenance), plain text,
    JSON, or its form's own (an NPC tree: .ink, .yarn). An unknown suffix is an error."""
    from fabula.files import write_atomic
    from fabula.responsible.review import export_manifest, gate
    from fabula.service.exports import export_work

    store = _store()
    work = store.get(work_id)
    settings = get_settings()
    gate(work["provenance"], settings, "export")
    content = export_work(work, store, output, fmt)
    if output is None:
        click.echo(content, nl=False)
    else:
        write_atomic(output, content)
        sidecar = export_manifest(work, output, settings)
        notice(f"wrote {output} and its provenance {sidecar}")
