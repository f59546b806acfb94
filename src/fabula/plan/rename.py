"""A character replaced by another, renamed everywhere the plan mentions them.

`regenerate characters[i]` writes a new person into the cast. The scenes built on the old one are
written again, but the beats, the other scenes, their dialogue, the places, the story-so-far
summaries, the bible and the writer's pins still said the old name: a trial found "Lila" in the
beats and in eight places of the script after she had become "Jolene", and the check passed. So
the old name (in full, and its first name alone, as people are called) is replaced by the new
one, as a whole word, in every text the plan holds, the cast's descriptions included ("Tomas's
sister"). The scenes that are rewritten then fit the new person; the rest at least name them.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from fabula.plan.continuity import digest, unit_text
from fabula.plan.entities import Line, SceneScript
from fabula.plan.model import Plan


def _replacer(old: str, new: str) -> Any:
    """A function renaming `old` (full name first, then its first name) to `new` in a text."""
    pairs = [(old, new)]
    if " " in old:
        pairs.append((old.split()[0], new.split()[0]))
    patterns = [(re.compile(rf"\b{re.escape(a)}\b"), b) for a, b in pairs]
    upper = [(re.compile(rf"\b{re.escape(a.upper())}\b"), b.upper()) for a, b in pairs]  # cues, headings

    def rename(text: str) -> str:
        for pattern, name in patterns + upper:
            text = pattern.sub(name, text)
        return text

    return rename


def rename_character(plan: Plan, old: str, new: str) -> int:
    """Rename `old` to `new` in every text of `plan`, in place; returns how many texts changed."""
    rename = _replacer(old, new)
    changed = 0

    def fix(text: str) -> str:
        nonlocal changed
        out = rename(text)
        changed += out != text
        return out

    if plan.title:
        plan.title = fix(plan.title)
    if plan.characters:  # the person themselves, and anyone described by their relation to them
        plan.characters = tuple(replace(c, name=fix(c.name), description=fix(c.description)) for c in plan.characters)
    if plan.beats:
        plan.beats = tuple(replace(b, summary=fix(b.summary)) for b in plan.beats)
    if plan.scenes:
        plan.scenes = tuple(
            replace(s, summary=fix(s.summary), characters=tuple(fix(c) for c in s.characters)) for s in plan.scenes
        )
    if plan.places:
        plan.places = tuple(replace(p, description=fix(p.description)) for p in plan.places)
    before = {index: digest(unit_text(unit)) for index, unit in plan.units.items()}
    for index, unit in list(plan.units.items()):
        if isinstance(unit, SceneScript):
            lines = tuple(Line(fix(line.character), fix(line.text)) for line in unit.lines)
            plan.units[index] = SceneScript(fix(unit.action), lines)
        else:
            plan.units[index] = fix(str(unit))
    for index, summary in plan.summaries.items():
        summary["text"] = fix(str(summary["text"]))
        if index in before and summary.get("of") == before[index]:
            # renamed alike, a summary still describes its unit: not stale, not written again
            summary["of"] = digest(unit_text(plan.units[index]))
    plan.bible = [replace(e, name=fix(e.name), text=fix(e.text)) for e in plan.bible]
    plan.pins = [replace(f, entity=fix(f.entity), value=fix(f.value), text=fix(f.text)) for f in plan.pins]
    return changed
