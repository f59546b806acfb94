"""`fabula continuity check FILE`: the ledger and contradictions of any manuscript.

Exit 0 whatever it finds (the report is the answer, as the contract asks); 2 on bad input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click


@click.group()
def continuity() -> None:
    """Continuity of long works: the story's state and its contradictions."""


@continuity.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--cast", default="", help="Comma-separated character names, where the text alone may miss some.")
@click.option("--json", "as_json", is_flag=True, help='{"contradictions": [...], "ledger": {...}}')
def check_command(file: Path, cast: str, as_json: bool) -> None:
    """Read a Markdown or text manuscript (chapters by # headings) and list its contradictions."""
    from fabula.service.continuity import check_manuscript_file, check_manuscript_text

    names = tuple(n.strip() for n in cast.split(",") if n.strip())
    report = check_manuscript_text(sys.stdin.read(), names) if str(file) == "-" else check_manuscript_file(file, names)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
        return
    render(report)


def render(report: dict[str, Any]) -> None:
    """Contradictions first (each with both places), then the state of each character."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    chapters = len(report["units"])
    found = report["contradictions"]
    console.print(f"{chapters} chapters; {len(found)} contradiction{'s' if len(found) != 1 else ''}")
    for c in found:
        console.print(f"[bold red]{c['kind']}[/] {c['entity']}: {c['detail']}")
        for side in ("first", "second"):
            where = c[side]
            label = (
                "pinned" if where.get("pinned") else f"chapter {where['chapter']}, sentence {where['sentence_number']}"
            )
            console.print(f"    {label}: {where['sentence']}")
    people = report["ledger"]["characters"]
    if people:
        table = Table("character", "alive", "place", "holds", "attributes", "relations")
        for name, state in people.items():
            alive = state.get("alive", {}).get("value", True)
            table.add_row(
                name,
                "yes" if alive else f"no (ch. {state['alive']['chapter']})",
                state.get("place", {}).get("value", ""),
                ", ".join(h["value"] for h in state.get("holds", [])),
                ", ".join(f"{k} {v['value']}" for k, v in state.get("attributes", {}).items()),
                ", ".join(r["value"] for r in state.get("relations", [])),
            )
        console.print(table)


# ---- a plan's ledger: `fabula plan ledger show|pin|unpin` -------------------------------------


@click.group()
def ledger() -> None:
    """A plan's continuity ledger: the story's state, its contradictions, the facts you pinned."""


def _plans() -> Any:
    from fabula.service.plans import plan_store
    from fabula.settings import get_settings

    return plan_store(get_settings())


@ledger.command("show")
@click.argument("plan_id")
@click.option("--json", "as_json", is_flag=True)
def ledger_show(plan_id: str, as_json: bool) -> None:
    """The ledger of the chapters (or scenes) written so far, with the summaries and your pins."""
    from fabula.service.continuity import plan_ledger

    report = plan_ledger(_plans().load(plan_id))
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
        return
    render(report)
    for p in report["pins"]:
        click.echo(f"pin {p['number']}: {p['entity']} {p['attribute']} {p['value']} from unit {p['unit']}")
    for u in report["unresolved"]:
        click.echo(f"unresolved in {u['step']}: {'; '.join(u['problems'])}")


@ledger.command("pin")
@click.argument("plan_id")
@click.argument("entity")
@click.argument("attribute")
@click.argument("value")
@click.option("--from", "unit", type=int, required=True, help="The first chapter or scene it holds for (from 1).")
def ledger_pin(plan_id: str, entity: str, attribute: str, value: str, unit: int) -> None:
    """Pin a fact later units are checked against: `Tom alive dead --from 3`."""
    from fabula.cli.render import notice
    from fabula.service.continuity import add_pin

    store = _plans()
    plan = store.load(plan_id)
    added = add_pin(plan, entity, attribute, value, unit)
    store.save(plan)
    notice(f"pin {added['number']}: {entity} {attribute} {added['value']} from unit {unit}")


@ledger.command("unpin")
@click.argument("plan_id")
@click.argument("number", type=int)
def ledger_unpin(plan_id: str, number: int) -> None:
    """Remove pin NUMBER (as `ledger show` numbers them)."""
    from fabula.cli.render import notice
    from fabula.service.continuity import remove_pin

    store = _plans()
    plan = store.load(plan_id)
    gone = remove_pin(plan, number)
    store.save(plan)
    notice(f"unpinned: {gone['entity']} {gone['attribute']} {gone['value']}")
