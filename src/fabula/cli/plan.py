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

from fabula.cli.continuity import ledger
from fabula.cli.interrupt import interruptible
from fabula.cli.progress import progress_bar
from fabula.cli.render import indexing_notice, notice, originality_line
from fabula.errors import Rejected
from fabula.sampling import SamplingParams
from fabula.settings import Settings, get_settings


def _store() -> Any:
    from fabula.service.plans import plan_store

    return plan_store(get_settings())


def _writer(
    plan: Any, settings: Settings, engine: str | None, model: str | None, params: SamplingParams | None, on_step: Any
) -> Any:
    from fabula.service.plans import plan_writer

    return plan_writer(plan, settings, engine=engine, model=model, params=params, on_step=on_step)


def _show(result: Any, as_json: bool) -> None:
    """The finished plan's work: its text and consistency report (or one JSON object)."""
    plan, work = result.plan, result.work
    if as_json:
        click.echo(json.dumps(work.to_json() | {"plan_id": plan.id}, ensure_ascii=False))
    else:
        consistency = (work.candidates[0].checks or {}).get("consistency", {})
        click.echo(work.text)
        notice(
            f"plan {plan.id}: {consistency.get('scenes')} scenes, speaking: "
            f"{', '.join(consistency.get('speaking_characters', [])) or '-'}; "
            f"consistency violations: {len(consistency.get('violations', []))}"
        )
        for line in consistency.get("violations", []) + consistency.get("warnings", []):
            notice(f"  {line}")
        if result.exported is not None:
            notice(f"exported → {result.exported}")
        notice(f"saved work {work.id} ({work.provenance['timing']['seconds']} s)")
        notice(f"originality: {originality_line(work.provenance.get('originality'))}")
    if not work.passed:
        raise Rejected(f"work {work.id} was saved, but it failed its checks ({'; '.join(work.chosen.failures())})")


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
    from fabula.service.plans import check_plan_export, start_plan

    check_plan_export(kind, export_file)
    plan = start_plan(kind, logline, inputs, params, settings, model=model or "")
    with progress_bar(as_json) as on_step:
        writer = _writer(plan, settings, engine, model, params.with_(seed=plan.seed), on_step)
        _run(plan, writer, export_file, as_json, settings)


def _run(plan: Any, writer: Any, export_file: Path | None, as_json: bool, settings: Settings) -> None:
    from fabula.responsible.safety import Blocked
    from fabula.service.plans import write_plan

    if not as_json:
        notice(f"plan {plan.id} ({plan.kind}, {plan.template}); resume with `fabula plan resume {plan.id}`")
    try:
        on_notice = None if as_json else indexing_notice
        result = interruptible(write_plan, plan, writer, settings, export=export_file, on_notice=on_notice)
    except Blocked as exc:
        raise Blocked(
            f"{exc} (`fabula plan edit` or `fabula plan regenerate`, then `fabula plan export`)", exc.verdict
        ) from exc
    _show(result, as_json)


@click.group()
def plan() -> None:
    """Long-form plans: show, edit, regenerate, resume, undo, check, ledger, export."""


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
        notice("no change (editor closed without saving)")
        return
    cleared = edit(p, element, text, cascade)
    store.save(p)
    notice(f"edited {element}" + (f"; cleared {', '.join(cleared)}" if cleared else ""))
    for line in check_plan(p)["violations"]:
        notice(f"  {line}")


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
    started = time.perf_counter()
    with progress_bar(False) as on_step:
        writer = _writer(p, get_settings(), engine, model, None, on_step)
        redone = interruptible(regenerate, writer, p, element)
    notice(
        f"regenerated {', '.join(redone)} in {time.perf_counter() - started:.1f} s; undo with `fabula plan undo {p.id}`"
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
        notice(f"{len(p.pending())} of {len(p.steps())} steps to write")
    settings = get_settings()
    with progress_bar(as_json) as on_step:
        writer = _writer(p, settings, engine, model, None, on_step)
        _run(p, writer, export_file, as_json, settings)


@plan.command("undo")
@click.argument("plan_id")
def undo(plan_id: str) -> None:
    """Go back to the plan as it was before its last change."""
    store = _store()
    p = store.load(plan_id)
    label = p.undo()
    store.save(p)
    notice(f"undid: {label} ({len(p.history)} earlier states left)")


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
    """Write the plan to FILE: .fountain .fdx .html .pdf (screenplay), .md .epub .docx (story), .json."""
    from fabula.service.plans import export_plan_file

    sidecar = export_plan_file(_store().load(plan_id), file, get_settings())
    notice(f"exported → {file} (provenance: {sidecar})")


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
    notice(f"added {kind} {name!r} to plan {p.id} ({len(p.bible)} entries)")


@bible.command("remove")
@click.argument("plan_id")
@click.argument("name")
def bible_remove(plan_id: str, name: str) -> None:
    store = _store()
    p = store.load(plan_id)
    p.remove_from_bible(name)
    store.save(p)
    notice(f"removed {name!r}")


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


plan.add_command(ledger)
