"""Co-writing a plan: start one, edit any level by hand, regenerate one element and what depends
on it, undo, and export it in the formats its kind has.

Dependencies run downwards, as in Dramatron: the cast and the beats shape the scenes, a scene shapes
its place and its dialogue (or chapter). Regenerating one element clears exactly what was built on
it, and the writer then fills those gaps again; a hand edit keeps what depends on it unless asked
(`cascade`), and the consistency report says what no longer fits.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from pathlib import Path

from fabula.errors import InvalidParam
from fabula.plan.entities import parse_level, render_level
from fabula.plan.model import TOP_LEVELS, Plan
from fabula.plan.rename import rename_character
from fabula.plan.runner import PlanWriter
from fabula.sampling import MAX_SEED

ELEMENT = re.compile(r"^(title|characters|beats|scenes|places|dialogue|prose)(?:\[(\d+)\])?$")


def new_plan(
    kind: str,
    logline: str,
    template: str = "three-act",
    cast: int = 4,
    seed: int | None = None,
    engine: str = "",
    model: str = "",
    context: bool = True,
) -> Plan:
    from fabula.pipeline import new_work_id

    return Plan(
        id=new_work_id(),
        kind=kind,
        logline=" ".join(logline.split()),
        template=template,
        cast_size=cast,
        seed=seed if seed is not None else secrets.randbelow(MAX_SEED + 1),
        engine=engine,
        model=model,
        created_at=datetime.now(UTC).isoformat(),
        context=context,
    )


def parse_target(plan: Plan, target: str) -> tuple[str, int | None]:
    match = ELEMENT.match(target.strip())
    if not match:
        raise InvalidParam(
            "element",
            target,
            "name a level (title, characters, beats, scenes, places) or one element: "
            "characters[2], scenes[0], dialogue[3], prose[1] (counting from 0)",
        )
    level, index = match.group(1), match.group(2)
    if level in ("dialogue", "prose") and level != plan.unit_level:
        raise InvalidParam("element", target, f"a {plan.kind} has {plan.unit_level}[i], not {level}")
    if level in ("dialogue", "prose") and index is None:
        raise InvalidParam("element", target, f"name the scene: {level}[0] .. {level}[{len(plan.scenes or ()) - 1}]")
    if index is not None:
        size = len(plan.get(level) or ()) if level in TOP_LEVELS else len(plan.scenes or ())
        if level in ("title", "beats", "places") or not 0 <= int(index) < size:
            raise InvalidParam(
                "element", target, f"{level} has elements 0..{size - 1}" if size else f"{level} is not written yet"
            )
    return level, int(index) if index is not None else None


def regenerate(writer: PlanWriter, plan: Plan, target: str) -> list[str]:
    """Write one level or element again (new seeds), clear what depends on it, and write that
    again too; returns what was redone. The previous state is kept for `undo`."""
    level, index = parse_target(plan, target)
    step = target.strip()
    plan.regenerations[step] = plan.regenerations.get(step, 0) + 1
    plan.remember(f"regenerate {step}")
    redone = [step]
    if level in ("dialogue", "prose"):
        plan.units.pop(index, None)  # type: ignore[arg-type]
    elif index is None:
        setattr(plan, level, None)
        redone += plan.invalidate_after(level)
    elif level == "characters":
        old = (plan.characters or ())[index]
        new = writer.rewrite_character(plan, index)
        plan.characters = tuple(new if i == index else c for i, c in enumerate(plan.characters or ()))
        built_on = [i for i, scene in enumerate(plan.scenes or ()) if old.name in scene.characters]
        renamed = rename_character(plan, old.name, new.name)  # nowhere keeps the old name
        if renamed:
            redone.append(f"renamed {old.name} to {new.name} in {renamed} texts")
        for i in built_on:  # scenes built on the old character are written again for the new one
            plan.scenes = tuple(writer.rewrite_scene(plan, i) if j == i else s for j, s in enumerate(plan.scenes or ()))
            plan.units.pop(i, None)
            redone.append(f"scenes[{i}]")
    elif level == "scenes":
        plan.scenes = tuple(
            writer.rewrite_scene(plan, index) if j == index else s for j, s in enumerate(plan.scenes or ())
        )
        plan.units.pop(index, None)
        redone.append(f"{plan.unit_level}[{index}]")
    writer.save(plan)
    writer.run(plan)  # fills what was cleared (and any place the new scenes need)
    return redone


def edit(plan: Plan, target: str, text: str, cascade: bool = False) -> list[str]:
    """Replace a level (or one scene's dialogue or chapter) with hand-written text in its text form.
    The text is parsed first: a parse error changes nothing. Returns what `cascade` cleared."""
    level, index = parse_target(plan, target)
    if index is not None and level in TOP_LEVELS:
        raise InvalidParam("element", target, "edit a whole level (e.g. characters), or one dialogue[i] / prose[i]")
    cast = tuple(c.name for c in plan.characters or ())
    value = parse_level(level, text, cast)
    plan.remember(f"edit {target}")
    if level in TOP_LEVELS:
        setattr(plan, level, value)
        return plan.invalidate_after(level) if cascade else []
    plan.units[index] = value  # type: ignore[index]
    return []


def editable_text(plan: Plan, target: str) -> str:
    level, index = parse_target(plan, target)
    value = plan.get(target.strip()) if index is not None and level not in TOP_LEVELS else plan.get(level)
    if value is None:
        raise InvalidParam("element", target, f"{target} is not written yet: `fabula plan resume {plan.id}`")
    return render_level(level, value)


EXPORTS = {
    "screenplay": (".fountain", ".fdx", ".html", ".pdf", ".json"),
    "story": (".md", ".epub", ".docx", ".json"),
}


def export(plan: Plan, path: Path) -> Path:
    """Write the plan in the format the suffix names (atomically)."""
    import json

    from fabula.files import write_atomic

    suffix = path.suffix.lower()
    if suffix not in EXPORTS[plan.kind]:
        raise InvalidParam("--export", str(path), f"a {plan.kind} exports to {', '.join(EXPORTS[plan.kind])}")
    if suffix == ".json":
        write_atomic(path, json.dumps(plan.to_dict(), ensure_ascii=False, indent=1) + "\n")
    elif plan.kind == "screenplay":
        from fabula.plan import fountain

        text = fountain.to_fountain(plan)
        report = fountain.check(text, plan)  # re-read by screenplain before anything is written
        if report["violations"]:
            raise InvalidParam(
                "--export", str(path), "the Fountain does not read back as the plan: " + "; ".join(report["violations"])
            )
        if suffix == ".fountain":
            write_atomic(path, text)
        elif suffix == ".fdx":
            write_atomic(path, fountain.to_fdx(text))
        elif suffix == ".html":
            write_atomic(path, fountain.to_html(text))
        else:
            fountain.to_pdf(text, path)
    else:
        from fabula.plan import book

        if suffix == ".md":
            write_atomic(path, book.to_markdown(plan))
        elif suffix == ".docx":
            book.write_docx(plan, path)
        else:
            book.write_epub(plan, path)
    return path
