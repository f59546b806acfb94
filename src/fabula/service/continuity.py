"""Continuity's services: check any manuscript, read a plan's ledger, pin and unpin its facts.

`fabula continuity check`, `fabula plan ledger ...` and `/api/plans/{id}/ledger` all come here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fabula.errors import InvalidParam
from fabula.plan.model import Plan

MAX_MANUSCRIPT = 5_000_000  # characters: a long novel is about a million


def check_manuscript_text(text: str, cast: tuple[str, ...] = ()) -> dict[str, Any]:
    from fabula.continuity.report import check_manuscript

    if len(text) > MAX_MANUSCRIPT:
        raise InvalidParam("manuscript", f"{len(text)} characters", f"at most {MAX_MANUSCRIPT:,}; check it in parts")
    return check_manuscript(text, cast)


def check_manuscript_file(path: Path, cast: tuple[str, ...] = ()) -> dict[str, Any]:
    """The report of a Markdown or text file (UTF-8), chapters by headings."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidParam(
            "file", str(path), f"a UTF-8 Markdown or text manuscript (byte {exc.start} is not UTF-8)"
        ) from None
    return check_manuscript_text(text, cast)


def plan_ledger(plan: Plan) -> dict[str, Any]:
    """The plan's continuity report, its pins numbered for `unpin`, and what was left unresolved."""
    from fabula.plan import continuity

    report = continuity.report(plan)
    latest = {entry.get("step"): entry for entry in plan.log}  # a step written again: its last writing
    unresolved = [{"step": step, "problems": e["unresolved"]} for step, e in latest.items() if e.get("unresolved")]
    pins = [{"number": i + 1, **p.to_data()} for i, p in enumerate(plan.pins)]
    summaries = {str(i + 1): s["text"] for i, s in sorted(plan.summaries.items())}
    return report | {"pins": pins, "unresolved": unresolved, "summaries": summaries, "context": plan.context}


def add_pin(plan: Plan, entity: str, attribute: str, value: str, unit: int) -> dict[str, Any]:
    """Pin a fact true from unit `unit` on (1-based, a chapter or scene of the plan)."""
    from fabula.continuity.ledger import pin
    from fabula.plan.model import TOP_LEVELS

    units = len(plan.steps()) - len(TOP_LEVELS)  # one per scene, or per template beat before scenes exist
    if not 1 <= unit <= units:
        raise InvalidParam("from", unit, f"a unit of the plan: 1 to {units}")
    fact = pin(entity, attribute, value, unit)
    plan.pins.append(fact)
    return {"number": len(plan.pins), **fact.to_data()}


def remove_pin(plan: Plan, number: int) -> dict[str, Any]:
    if not 1 <= number <= len(plan.pins):
        have = f"1 to {len(plan.pins)}" if plan.pins else "none: the plan has no pinned fact"
        raise InvalidParam("pin", number, f"a pin's number: {have}")
    return plan.pins.pop(number - 1).to_data()
