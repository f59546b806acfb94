"""A screenplay plan as Fountain text, checked and rendered by screenplain (HTML and PDF).

The Fountain is laid out deterministically from the plan's entities, so it parses by construction:
every scene heading is INT./EXT. PLACE - TIME, every cue is the speaker's name in capitals, and an
action paragraph that Fountain could mistake for something else (a heading, a cue, a transition,
a note) is written as forced action (`!`). `check` parses the text again with screenplain and
compares what it finds with the plan, trusting nothing the writer produced.
"""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path
from typing import Any

from fabula.plan.model import Plan

SPECIAL_START = re.compile(r"^(INT|EXT|EST|I/E|INT\./EXT)[. ]|^[!@~=#>.\[/^*_]|TO:$", re.IGNORECASE)


# Fountain's boneyard (/* */) and notes ([[ ]]) hide what they enclose: every parser drops it. In
# generated text they are split apart, so no line is lost (lines inside them were).
HIDING = (("/*", "/ *"), ("*/", "* /"), ("[[", "[ ["), ("]]", "] ]"))


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    for marker, harmless in HIDING:
        text = text.replace(marker, harmless)
    return text


def _action(text: str) -> str:
    text = _one_line(text)
    if SPECIAL_START.search(text) or text.isupper():
        return "!" + text
    return text


def to_fountain(plan: Plan, author: str = "fabula") -> str:
    """The whole screenplay as Fountain (scenes without dialogue yet are left out, and said so)."""
    if plan.scenes is None:
        raise ValueError(f"plan {plan.id} has no scenes yet: run `fabula plan resume {plan.id}`")
    described = {p.name: p.description for p in plan.places or ()}
    out = [
        f"Title: {_one_line(plan.title or plan.logline)}",
        "Credit: Written with",
        f"Author: {author}",
        f"Notes: {_one_line(plan.logline)}",
        f"Draft date: {date.today().isoformat()}",
        "",
    ]
    seen_places: set[str] = set()
    for index, scene in enumerate(plan.scenes):
        script = plan.units.get(index)
        out += [scene.heading, ""]
        if scene.place not in seen_places and scene.place in described:
            out += [_action(described[scene.place]), ""]
        seen_places.add(scene.place)
        if script is None:
            out += [_action(f"[Scene not yet written: {scene.summary}]"), ""]
            continue
        out += [_action(script.action), ""]
        for line in script.lines:
            out += [line.character.upper(), _one_line(line.text), ""]
    out += ["THE END.", ""]  # transitions end with TO: or are forced; a closing line is action
    return "\n".join(out)


def parse(text: str) -> Any:
    from screenplain.parsers import fountain

    return fountain.parse(io.StringIO(text))


def check(text: str, plan: Plan | None = None) -> dict[str, Any]:
    """What screenplain makes of the text: scenes, speakers, lines, and any mismatch with the plan."""
    from screenplain.types import Dialog, DualDialog, Slug

    try:
        screenplay = parse(text)
    except Exception as exc:  # screenplain raises plain exceptions on malformed input
        return {"parsed": False, "violations": [f"screenplain cannot parse it: {exc}"]}
    paragraphs = list(screenplay)
    scenes = [p for p in paragraphs if isinstance(p, Slug)]
    dialogs = [p for p in paragraphs if isinstance(p, Dialog)]
    dialogs += [d for p in paragraphs if isinstance(p, DualDialog) for d in (p.left, p.right)]
    speakers = sorted({str(d.character).strip() for d in dialogs})
    report: dict[str, Any] = {
        "parsed": True,
        "scenes": len(scenes),
        "dialogue_blocks": len(dialogs),
        "speaking_characters": speakers,
        "violations": [],
    }
    if plan is not None and plan.scenes is not None:
        if len(scenes) != len(plan.scenes):
            report["violations"].append(f"screenplain finds {len(scenes)} scenes; the plan has {len(plan.scenes)}")
        cast = {c.name.upper() for c in plan.characters or ()}
        strangers = [s for s in speakers if s not in cast]
        if strangers:
            report["violations"].append(f"speakers not in the cast: {strangers}")
        expected = sum(len(u.lines) for u in plan.units.values())
        if len(dialogs) != expected:
            report["violations"].append(f"screenplain finds {len(dialogs)} dialogue blocks; the plan has {expected}")
    return report


def to_fdx(text: str) -> str:
    """Final Draft (.fdx, XML) by screenplain's exporter, read back with an XML parser before it is
    returned: the scene headings and dialogue it holds must be the ones screenplain found."""
    from xml.etree import ElementTree

    from screenplain.export.fdx import to_fdx as render

    out = io.StringIO()
    render(parse(text), out)
    fdx = out.getvalue()
    root = ElementTree.fromstring(fdx.encode("utf-8"))
    kinds = [p.get("Type") for p in root.iter("Paragraph")]
    report = check(text)
    if kinds.count("Scene Heading") != report["scenes"] or kinds.count("Character") != report["dialogue_blocks"]:
        raise ValueError(f"the Final Draft file does not hold the script's {report['scenes']} scenes and dialogue")
    return fdx


def to_html(text: str) -> str:
    from screenplain.export.html import convert

    out = io.StringIO()
    convert(parse(text), out)
    return out.getvalue()


def to_pdf(text: str, path: Path) -> Path:
    """Render with screenplain's PDF exporter (reportlab), via a temp file and a rename."""
    from screenplain.export.pdf import to_pdf as render

    from fabula.files import replaced

    with replaced(path) as tmp:
        render(parse(text), str(tmp))
    return path
