"""Consistency checks of a plan: who speaks, who is in which scene, and how names are spelled.

A small model happily invents a speaker or writes "Marra" for "Mara". Decoding under the plan's
schemas rules out the first for generated text, but hand edits and prose are free text, so the
checks run on whatever the plan holds and list every problem with where it is.
"""

from __future__ import annotations

import re
from typing import Any

from fabula.continuity.checks import edit_distance
from fabula.plan.model import Plan
from fabula.post.language import check_language

WORD = re.compile(r"\b[A-Z][a-z]{2,}\b")


def _texts(plan: Plan) -> list[tuple[str, str]]:
    """(where, text) for every piece of free text in the plan."""
    out = [(f"beat {b.name!r}", b.summary) for b in plan.beats or ()]
    out += [(f"scene {i + 1}", s.summary) for i, s in enumerate(plan.scenes or ())]
    for i, unit in sorted(plan.units.items()):
        if isinstance(unit, str):
            out.append((f"chapter {i + 1}", unit))
        else:
            out.append((f"scene {i + 1} action", unit.action))
            out += [(f"scene {i + 1}, {line.character}'s line", line.text) for line in unit.lines]
    return out


def _english(word: str) -> bool:
    import pronouncing

    return bool(pronouncing.phones_for_word(word.lower()))


def misspellings(plan: Plan) -> list[str]:
    """Words one or two edits away from a cast name (not a name, not a word used elsewhere as is)."""
    names = [c.name.split()[0] for c in plan.characters or ()]
    found = []
    for where, text in _texts(plan):
        for word in sorted(set(WORD.findall(text))):
            if word in names or _english(word):  # "Liar" near "Liam" is a word, not a misspelling
                continue
            for name in names:
                limit = 1 if len(name) <= 6 else 2  # "Lone" is not "Lionel"; "Elenor" is "Eleanor"
                close = word[0] == name[0] and 0 < edit_distance(word.lower(), name.lower()) <= limit
                if len(name) >= 4 and close:
                    found.append(f"{where}: {word!r} looks like a misspelling of {name!r}")
    return found


def what_a_reader_rejects(plan: Plan) -> list[str]:
    """What a reader would reject in the units, read from the text the plan holds now (hand edits
    included): a run copied from an earlier unit or the logline, a phrase said too often in the
    work, dialogue lines that are only a name, and a unit that has drifted out of English."""
    from fabula.plan import continuity

    label = "scene" if plan.kind == "screenplay" else "chapter"
    names = [c.name for c in plan.characters or ()]
    found = []
    for i, unit in sorted(plan.units.items()):
        found += [f"{label} {i + 1} repeats {where}: {run!r}" for where, run in continuity.unit_repeats(plan, i, unit)]
        found += [f"{label} {i + 1}: {problem}" for problem in continuity.name_only_lines(unit, names)]
        english, language = check_language(continuity.raw_text(unit), "en")
        if not english:
            found.append(f"{label} {i + 1} is not in English: {language}")
    said = continuity.phrase_repeat(plan)
    if said:
        found.append(f"the {plan.kind} says {said[0]!r} {said[1]} times, four of them within 2,000 words")
    return found


def check_plan(plan: Plan) -> dict[str, Any]:
    """{"ok", "violations", "warnings", counts} for a plan in any state."""
    cast = [c.name for c in plan.characters or ()]
    violations: list[str] = []
    warnings: list[str] = []
    speakers: set[str] = set()
    for i, scene in enumerate(plan.scenes or ()):
        strangers = [n for n in scene.characters if n not in cast]
        if strangers:
            violations.append(f"scene {i + 1} lists {strangers}, who are not in the cast")
    for i, unit in sorted(plan.units.items()):
        if isinstance(unit, str):
            continue
        said = {line.character for line in unit.lines}
        speakers |= said
        strangers = sorted(said - set(cast))
        if strangers:
            violations.append(f"scene {i + 1}: {strangers} speak but are not in the cast")
        scene = (plan.scenes or ())[i] if plan.scenes and i < len(plan.scenes) else None
        if scene is not None:
            absent = sorted(said - set(scene.characters) - set(strangers))
            if absent:
                warnings.append(f"scene {i + 1}: {absent} speak but are not listed as present")
    violations += misspellings(plan)
    violations += what_a_reader_rejects(plan)
    from fabula.plan.continuity import report as continuity_report

    continuity = continuity_report(plan)["contradictions"] if plan.units else []
    for c in continuity:  # the ledger's contradictions, each with both places
        if c["kind"] == "name_changed":
            continue  # `misspellings` above reports these, against the cast
        first, second = c["first"], c["second"]
        at = "a pinned fact" if first["pinned"] else f"{first['chapter']}.{first['sentence_number']}"
        violations.append(
            f"continuity ({c['kind']}): {c['detail']} [{at} vs {second['chapter']}.{second['sentence_number']}]"
        )
    described = {p.name for p in plan.places or ()}
    missing = sorted({s.place for s in plan.scenes or ()} - described) if plan.places is not None else []
    if missing:
        warnings.append(f"places without a description: {missing}")
    silent = sorted(set(cast) - speakers) if plan.kind == "screenplay" and plan.complete else []
    if silent:
        warnings.append(f"characters who never speak: {silent}")
    return {
        "ok": not violations,
        "violations": violations,
        "warnings": warnings,
        "cast": cast,
        "scenes": len(plan.scenes or ()),
        "speaking_characters": sorted(speakers),
        "continuity": continuity,
        "steps_done": len(plan.steps()) - len(plan.pending()),
        "steps": len(plan.steps()),
    }
