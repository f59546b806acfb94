"""`fabula plan ...` and `fabula bible ...`: long forms written level by level, and their story bible.

`fabula write screenplay` (and `fabula write story --long`) start a plan and run it here; the
plan commands show, edit, regenerate, resume, undo, check and export it afterwards.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from fabula.errors import InvalidParam, Rejected
from fabula.sampling import SamplingParams
from fabula.settings import Settings, get_settings


def _store() -> Any:
    from fabula.plan.store import PlanStore

    return PlanStore(get_settings().ensure_home())


def _progress(quiet: bool) -> tuple[Any, Any]:
    """A rich progress bar over a plan's steps (on stderr), or nothing when quiet."""
    if quiet:
        return None, None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )
    task = progress.add_task("plan", total=None)

    def on_step(step: str, index: int, total: int) -> None:
        progress.update(task, description=f"writing {step}", completed=index, total=total)

    return progress, on_step


def _writer(
    plan: Any, settings: Settings, engine: str | None, model: str | None, params: SamplingParams | None, on_step: Any
) -> Any:
    from fabula.backends import get_backend
    from fabula.plan.runner import PlanWriter

    engine_name = engine or plan.engine or settings.engine
    backend = get_backend(engine_name, model if model is not None else (plan.model or settings.model), settings)
    plan.engine = engine_name
    if params is None:
        params = SamplingParams.from_mapping(plan.params) if plan.params else None
    writer = PlanWriter(backend, _store().save, params, on_step=on_step)
    plan.params = writer.params.to_dict()
    return writer


def _finish(
    plan: Any, writer: Any, started: float, export_file: Path | None, as_json: bool, settings: Settings
) -> None:
    """Save the plan as a work, export it, report; a work that fails its checks is still saved."""
    from fabula.cli.write import indexing_notice, originality_line
    from fabula.plan.cowrite import export
    from fabula.plan.work import plan_work
    from fabula.responsible.review import export_manifest, gate, review_and_save
    from fabula.responsible.safety import Blocked
    from fabula.store.works import WorkStore

    work = plan_work(plan, writer.backend.model_info(), time.perf_counter() - started)
    store = WorkStore(settings.db_url)
    try:
        work = review_and_save(work, settings, store, on_build=None if as_json else indexing_notice)
    except Blocked as exc:
        raise Blocked(
            f"{exc}; plan {plan.id} is kept: change the offending part with `fabula plan edit` or "
            f"`fabula plan regenerate`, then `fabula plan export`",
            exc.verdict,
        ) from exc
    if export_file is not None:
        gate(work.provenance, settings, "export")
        export(plan, export_file)
        export_manifest(store.get(work.id), export_file, settings)
    if as_json:
        click.echo(json.dumps(work.to_json() | {"plan_id": plan.id}, ensure_ascii=False))
    else:
        report = work.candidates[0].checks or {}
        consistency = report.get("consistency", {})
        click.echo(work.text)
        click.echo(
            f"plan {plan.id}: {consistency.get('scenes')} scenes, speaking: "
            f"{', '.join(consistency.get('speaking_characters', [])) or '-'}; "
            f"consistency violations: {len(consistency.get('violations', []))}",
            err=True,
        )
        for line in consistency.get("violations", []) + consistency.get("warnings", []):
            click.echo(f"  {line}", err=True)
        if export_file is not None:
            click.echo(f"exported → {export_file}", err=True)
        click.echo(f"saved work {work.id} ({work.provenance['timing']['seconds']} s)", err=True)
        click.echo(f"originality: {originality_line(work.provenance.get('originality'))}", err=True)
    if not work.provenance["post"]["passed"]:
        failed = [v["detail"] for v in work.candidates[0].verdicts if not v["passed"] and v["severity"] == "error"]
        raise Rejected(f"work {work.id} was saved, but it failed its checks ({'; '.join(failed)})")


def write_planned(
    kind: str,
    logline: str | None,
    inputs: dict[str, str],
    engine: str | None,
    model: str | None,
    params: SamplingParams,
    export_file: Path | None,
    as_json: bool,
    settings: Settings,
) -> None:
    """`fabula write screenplay` / `fabula write story --long`: plan, write every level, export."""
    from fabula.plan.cowrite import EXPORTS, new_plan

    if export_file is not None and export_file.suffix.lower() not in EXPORTS[kind]:
        raise InvalidParam("--export", str(export_file), f"a {kind} exports to {', '.join(EXPORTS[kind])}")
    unknown = sorted(set(inputs) - {"template", "cast"})
    if unknown:
        raise InvalidParam("--set", unknown[0], f"a planned {kind} takes template=NAME and cast=N")
    try:
        cast = int(inputs.get("cast", "4"))
    except ValueError:
        raise InvalidParam("cast", inputs["cast"], "a whole number of main characters, 2 to 6") from None
    if not logline or not logline.strip():
        raise InvalidParam("logline", logline or "", f"give the {kind} a logline: one or two sentences")
    from fabula.responsible.safety import SafetyPolicy

    SafetyPolicy.parse(settings.safety).enforce(logline, "prompt")
    plan = new_plan(kind, logline, inputs.get("template", "three-act"), cast, params.seed, model=model or "")
    progress, on_step = _progress(as_json)
    writer = _writer(plan, settings, engine, model, params.with_(seed=plan.seed), on_step)
    _run(plan, writer, progress, export_file, as_json, settings)


def _run(plan: Any, writer: Any, progress: Any, export_file: Path | None, as_json: bool, settings: Settings) -> None:
    started = time.perf_counter()
    _store().save(plan)
    if not as_json:
        click.echo(
            f"plan {plan.id} ({plan.kind}, {plan.template}); resume with `fabula plan resume {plan.id}`", err=True
        )
    if progress is not None:
        with progress:
            writer.run(plan)
    else:
        writer.run(plan)
    _finish(plan, writer, started, export_file, as_json, settings)


@click.group()
def plan() -> None:
    """Long-form plans: show, edit, regenerate, resume, undo, check, export."""


@plan.command("list")
def list_plans() -> None:
    """Every plan, newest first, with how far it got."""
    for p in _store().list():
        done = len(p.steps()) - len(p.pending())
        click.echo(f"{p.id}  {p.kind:<10} {done:>2}/{len(p.steps())} steps  {p.title or '-'}: {p.logline[:60]}")


@plan.command("show")
@click.argument("plan_id")
@click.argument("element", required=False)
@click.option("--json", "as_json", is_flag=True, help="The whole plan as JSON.")
def show(plan_id: str, element: str | None, as_json: bool) -> None:
    """Show a plan's levels in their editable text form (or one ELEMENT, e.g. scenes, dialogue[2])."""
    from fabula.plan.cowrite import editable_text

    p = _store().load(plan_id)
    if as_json:
        click.echo(json.dumps(p.to_dict(), ensure_ascii=False, indent=1))
        return
    if element:
        click.echo(editable_text(p, element), nl=False)
        return
    click.echo(f"# plan {p.id}: {p.kind}, {p.template}, seed {p.seed}\nLogline: {p.logline}\n")
    for step in p.steps():
        if p.done(step):
            click.echo(f"## {step}\n{editable_text(p, step)}")
        else:
            click.echo(f"## {step}\n(not written yet)\n")


@plan.command("edit")
@click.argument("plan_id")
@click.argument("element")
@click.option("--file", "source", type=click.File("r", encoding="utf-8"), help="Read the new text here ('-' = stdin).")
@click.option("--cascade", is_flag=True, help="Clear the levels that depend on it, for `resume` to write again.")
def edit_cmd(plan_id: str, element: str, source: Any, cascade: bool) -> None:
    """Edit a level (title, characters, beats, scenes, places) or one dialogue[i] / prose[i] by hand.

    Opens $EDITOR on its text form unless --file is given; the text must parse, or nothing changes.
    """
    from fabula.plan.consistency import check_plan
    from fabula.plan.cowrite import edit, editable_text

    store = _store()
    p = store.load(plan_id)
    text = source.read() if source else click.edit(editable_text(p, element))
    if text is None:
        click.echo("no change (editor closed without saving)", err=True)
        return
    cleared = edit(p, element, text, cascade)
    store.save(p)
    click.echo(f"edited {element}" + (f"; cleared {', '.join(cleared)}" if cleared else ""), err=True)
    for line in check_plan(p)["violations"]:
        click.echo(f"  {line}", err=True)


@plan.command("regenerate")
@click.argument("plan_id")
@click.argument("element")
@click.option("--engine")
@click.option("--model")
def regenerate_cmd(plan_id: str, element: str, engine: str | None, model: str | None) -> None:
    """Write ELEMENT again with new seeds (a level, or characters[i], scenes[i], dialogue[i], prose[i])
    and everything that depends on it."""
    from fabula.plan.cowrite import regenerate

    p = _store().load(plan_id)
    progress, on_step = _progress(False)
    writer = _writer(p, get_settings(), engine, model, None, on_step)
    started = time.perf_counter()
    with progress:
        redone = regenerate(writer, p, element)
    click.echo(
        f"regenerated {', '.join(redone)} in {time.perf_counter() - started:.1f} s; undo with "
        f"`fabula plan undo {p.id}`",
        err=True,
    )


@plan.command("resume")
@click.argument("plan_id")
@click.option("--engine")
@click.option("--model")
@click.option("--export", "export_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def resume(plan_id: str, engine: str | None, model: str | None, export_file: Path | None, as_json: bool) -> None:
    """Write the steps an interrupted job left, then save and export as `write` does."""
    p = _store().load(plan_id)
    if not as_json:
        click.echo(f"{len(p.pending())} of {len(p.steps())} steps to write", err=True)
    progress, on_step = _progress(as_json)
    settings = get_settings()
    writer = _writer(p, settings, engine, model, None, on_step)
    _run(p, writer, progress, export_file, as_json, settings)


@plan.command("undo")
@click.argument("plan_id")
def undo(plan_id: str) -> None:
    """Go back to the plan as it was before its last change."""
    store = _store()
    p = store.load(plan_id)
    label = p.undo()
    store.save(p)
    click.echo(f"undid: {label} ({len(p.history)} earlier states left)", err=True)


@plan.command("check")
@click.argument("plan_id")
@click.option("--json", "as_json", is_flag=True)
def check_cmd(plan_id: str, as_json: bool) -> None:
    """The consistency report: cast, speakers, names, places; exit 3 on a violation."""
    from fabula.plan.consistency import check_plan

    report = check_plan(_store().load(plan_id))
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
    else:
        click.echo(f"{report['scenes']} scenes; speaking: {', '.join(report['speaking_characters']) or '-'}")
        for line in report["violations"]:
            click.echo(f"violation: {line}")
        for line in report["warnings"]:
            click.echo(f"warning: {line}")
    if not report["ok"]:
        raise Rejected(f"{len(report['violations'])} consistency violations")


@plan.command("export")
@click.argument("plan_id")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def export_cmd(plan_id: str, file: Path) -> None:
    """Write the plan to FILE: .fountain .html .pdf (screenplay), .md .epub (story), .json."""
    from fabula.plan.cowrite import export
    from fabula.plan.work import plan_work
    from fabula.responsible.review import export_manifest, gate, review_work

    settings = get_settings()
    p = _store().load(plan_id)
    work = review_work(plan_work(p, {"name": p.model or "(as in the plan's steps)"}, 0.0), settings)
    gate(work.provenance, settings, "export")
    export(p, file)
    sidecar = export_manifest(work.to_json(), file, settings)
    click.echo(f"exported → {file} (provenance: {sidecar})", err=True)


@click.group()
def bible() -> None:
    """A plan's story bible: characters, places, facts and style notes injected into its prompts."""


@bible.command("add")
@click.argument("plan_id")
@click.argument("text")
@click.option("--name", required=True, help="What the entry is about, e.g. 'the lantern'.")
@click.option("--kind", type=click.Choice(["character", "place", "fact", "style"]), default="fact", show_default=True)
@click.option("--keywords", default="", help="Comma-separated words that pull the entry into a prompt.")
def bible_add(plan_id: str, text: str, name: str, kind: str, keywords: str) -> None:
    """Add an entry; later steps (resume, regenerate) see it when relevant."""
    from fabula.plan.bible import Entry

    store = _store()
    p = store.load(plan_id)
    words = tuple(w.strip() for w in keywords.split(",") if w.strip())
    p.add_to_bible(Entry(kind, name.strip(), " ".join(text.split()), words))
    store.save(p)
    click.echo(f"added {kind} {name!r} to plan {p.id} ({len(p.bible)} entries)", err=True)


@bible.command("remove")
@click.argument("plan_id")
@click.argument("name")
def bible_remove(plan_id: str, name: str) -> None:
    store = _store()
    p = store.load(plan_id)
    p.remove_from_bible(name)
    store.save(p)
    click.echo(f"removed {name!r}", err=True)


@bible.command("list")
@click.argument("plan_id")
@click.option("--json", "as_json", is_flag=True)
def bible_list(plan_id: str, as_json: bool) -> None:
    """Every entry, the plan's own characters and places included."""
    from fabula.plan.entities import to_data
    from fabula.plan.runner import plan_entries

    entries = plan_entries(_store().load(plan_id))
    if as_json:
        click.echo(json.dumps(to_data(entries), ensure_ascii=False))
        return
    for e in entries:
        keys = f" [{', '.join(e.keywords)}]" if e.keywords else ""
        click.echo(f"{e.kind:<9} {e.name}{keys} ({e.source}): {e.text}")
