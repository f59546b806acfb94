"""A plan's continuity: its written units as a manuscript, their ledger, and the story so far.

The ledger is rebuilt from the units' text and the writer's pins whenever it is needed (the
rules are fast and deterministic), so a hand edit or a regenerated chapter never leaves a stale
fact behind. A screenplay scene is read as its action line followed by "NAME said, '...'" for
each line: what is said is speech, not narration, but the speaker is there and alive.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from fabula.continuity.checks import Contradiction, contradictions
from fabula.continuity.context import SoFar, story_so_far
from fabula.continuity.manuscript import Unit, sentences
from fabula.continuity.repetition import crowded_phrases, repeats, words
from fabula.continuity.report import build_ledger
from fabula.plan.entities import SceneScript
from fabula.plan.model import Plan


def unit_text(unit: Any) -> str:
    if isinstance(unit, SceneScript):
        said = " ".join(f'{line.character} said, "{line.text}"' for line in unit.lines)
        return f"{unit.action} {said}".strip()
    return str(unit)


def raw_text(unit: Any) -> str:
    """What the unit's author wrote, a line per dialogue line (for repetition, not for facts)."""
    if isinstance(unit, SceneScript):
        return "\n".join([unit.action, *(line.text for line in unit.lines)])
    return str(unit)


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _label(plan: Plan) -> str:
    return "Scene" if plan.kind == "screenplay" else "Chapter"


def plan_units(plan: Plan, upto: int | None = None, candidate: tuple[int, Any] | None = None) -> list[Unit]:
    """The written units before index `upto` (all when None), plus a candidate for one index."""
    texts = {i: unit_text(u) for i, u in plan.units.items() if upto is None or i < upto}
    if candidate is not None:
        texts[candidate[0]] = unit_text(candidate[1])
    scenes = plan.scenes or ()
    return [
        Unit(
            i + 1,
            f"{_label(plan)} {i + 1}: {scenes[i].beat}" if i < len(scenes) else f"{_label(plan)} {i + 1}",
            sentences(texts[i]),
        )
        for i in sorted(texts)
    ]


def cast(plan: Plan) -> tuple[str, ...]:
    return tuple(c.name for c in plan.characters or ())


def unit_contradictions(plan: Plan, index: int, candidate: Any) -> list[Contradiction]:
    """The contradictions a candidate for unit `index` makes with the units before it and the pins."""
    units = plan_units(plan, upto=index, candidate=(index, candidate))
    found = contradictions(
        build_ledger(units, cast(plan), plan.pins).all(), {u.number: u.text for u in units}, cast(plan)
    )
    return [c for c in found if c.second.unit == index + 1]


def unit_repeats(plan: Plan, index: int, candidate: Any) -> list[tuple[str, str]]:
    """Eight-word runs a candidate copies from an earlier unit or from the logline."""
    earlier = [("the logline", plan.logline)]
    earlier += [(f"{_label(plan).lower()} {i + 1}", raw_text(u)) for i, u in sorted(plan.units.items()) if i < index]
    return repeats(raw_text(candidate), earlier)


def phrase_repeat(plan: Plan, candidate: tuple[int, Any] | None = None) -> tuple[str, int] | None:
    """A six-word run the work says too often, and how often; with a candidate in its place, only
    a run the candidate itself says (earlier units' repeats are not its fault, nor mended by it)."""
    units = dict(plan.units) | (dict([candidate]) if candidate else {})
    found = crowded_phrases("\n".join(raw_text(u) for _, u in sorted(units.items())))
    if candidate is not None:
        own = f" {' '.join(words(raw_text(candidate[1])))} "
        found = [(phrase, count) for phrase, count in found if f" {phrase} " in own]
    return found[0] if found else None


def name_only_lines(candidate: Any, names: list[str]) -> list[str]:
    """Dialogue lines that are nothing but a name ("Mara."): a small model's filler, not a line."""
    if not isinstance(candidate, SceneScript):
        return []
    known = {word.lower() for name in names for word in name.split()}
    out = []
    for line in candidate.lines:
        said = re.sub(r"[\W_]+", " ", line.text).strip().lower().split()
        if said and all(word in known for word in said):
            out.append(f"{line.character}'s line is only a name: {line.text!r}")
    return out


def so_far(plan: Plan, index: int, budget: int) -> SoFar:
    """The recap for unit `index` from the summaries of the units before it (see `ensure`)."""
    summaries = [str(plan.summaries[i]["text"]) for i in range(index) if i in plan.summaries]
    previous = plan.units.get(index - 1)
    if plan.kind == "screenplay":  # a scene starts fresh; its dialogue copied the last lines given
        previous = None
    return story_so_far(summaries, unit_text(previous) if previous is not None else None, budget, _label(plan))


def stale_summaries(plan: Plan, index: int) -> list[int]:
    """Written units before `index` whose summary is missing or was made from other text."""
    return [
        i
        for i in range(index)
        if i in plan.units and plan.summaries.get(i, {}).get("of") != digest(unit_text(plan.units[i]))
    ]


def report(plan: Plan) -> dict[str, Any]:
    """The continuity report of a plan: the `fabula continuity check` contract, for its units."""
    from fabula.continuity.report import report as manuscript_report

    return manuscript_report(plan_units(plan), cast(plan), plan.pins)
