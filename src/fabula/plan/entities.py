"""The levels of a long-form plan as typed entities that round-trip through text.

Generation descends fixed levels, after Dramatron: logline -> title -> characters -> beats ->
scenes -> places -> dialogue (screenplay) or prose (story). Each level is a list of small frozen
records with a plain-text form a writer can edit by hand (`fabula plan edit`): blocks of
`Key: value` lines separated by blank lines. `parse_level` reads that text back and raises
`PlanParseError` naming the line and what it expected; nothing is ever silently dropped or cut.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from fabula.errors import FormError

LEVELS = ("title", "characters", "beats", "scenes", "places", "dialogue", "prose")
SETTINGS = ("INT.", "EXT.")
TIMES = ("DAY", "NIGHT", "DAWN", "DUSK")
NAME_RE = re.compile(r"^[A-Z][a-z]{1,11}( [A-Z][a-z]{1,11})?$")


class PlanParseError(FormError):
    """A level's text does not parse; the message names the line and what was expected."""


@dataclass(frozen=True)
class Character:
    name: str
    description: str


@dataclass(frozen=True)
class Beat:
    name: str
    summary: str


@dataclass(frozen=True)
class Scene:
    beat: str
    setting: str  # INT. or EXT.
    place: str
    time: str
    characters: tuple[str, ...]
    summary: str

    @property
    def heading(self) -> str:
        return f"{self.setting} {self.place.upper()} - {self.time}"


@dataclass(frozen=True)
class Place:
    name: str
    description: str


@dataclass(frozen=True)
class Line:
    character: str
    text: str


@dataclass(frozen=True)
class SceneScript:
    action: str
    lines: tuple[Line, ...] = field(default=())


# ---- text forms -------------------------------------------------------------------------------


def _blocks(text: str) -> list[list[tuple[int, str]]]:
    """Non-empty lines grouped into blank-line separated blocks, with 1-based line numbers."""
    blocks: list[list[tuple[int, str]]] = [[]]
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            if blocks[-1]:
                blocks.append([])
            continue
        blocks[-1].append((number, line))
    return [b for b in blocks if b]


def _fields(block: list[tuple[int, str]], keys: tuple[str, ...], level: str) -> dict[str, str]:
    """`Key: value` lines of one block, every key in `keys` required and no other allowed."""
    out: dict[str, str] = {}
    for number, line in block:
        key, sep, value = line.partition(":")
        key = key.strip().lower()
        if not sep or key not in keys:
            raise PlanParseError(
                f"{level}, line {number}: expected one of {', '.join(k.title() + ':' for k in keys)} "
                f"but found {line[:60]!r}"
            )
        if key in out:
            raise PlanParseError(f"{level}, line {number}: {key.title()} appears twice in one entry")
        out[key] = value.strip()
    missing = [k for k in keys if not out.get(k)]
    if missing:
        raise PlanParseError(f"{level}, entry at line {block[0][0]}: {missing[0].title()}: is missing or empty")
    return out


def _name(value: str, level: str, where: int) -> str:
    if not NAME_RE.match(value):
        raise PlanParseError(
            f"{level}, line {where}: name {value!r} must be one or two capitalised words of letters, "
            "e.g. Mara or Mara Quill"
        )
    return value


def render_level(level: str, value: Any) -> str:
    """The editable text of one level (the inverse of `parse_level`)."""
    if level == "title":
        return f"Title: {value}\n"
    if level == "characters":
        return "\n".join(f"Name: {c.name}\nDescription: {c.description}\n" for c in value)
    if level == "beats":
        return "\n".join(f"Beat: {b.name}\nSummary: {b.summary}\n" for b in value)
    if level == "scenes":
        return "\n".join(
            f"Beat: {s.beat}\nHeading: {s.heading}\nCharacters: {', '.join(s.characters)}\nSummary: {s.summary}\n"
            for s in value
        )
    if level == "places":
        return "\n".join(f"Place: {p.name}\nDescription: {p.description}\n" for p in value)
    if level == "dialogue":
        lines = [f"Action: {value.action}"] + [f"{line.character.upper()}: {line.text}" for line in value.lines]
        return "\n".join(lines) + "\n"
    if level == "prose":
        return str(value).rstrip() + "\n"
    raise PlanParseError(f"level {level!r} is unknown; levels are: {', '.join(LEVELS)}")


HEADING_RE = re.compile(r"^(INT\.|EXT\.) (.+?) - (DAY|NIGHT|DAWN|DUSK)$")


def parse_level(level: str, text: str, cast: tuple[str, ...] = ()) -> Any:
    """Read a level back from its text; `cast` (character names) resolves dialogue speakers."""
    blocks = _blocks(text)
    if level == "prose":
        if not text.strip():
            raise PlanParseError("prose: the chapter is empty")
        return text.strip()
    if not blocks:
        raise PlanParseError(f"{level}: the text is empty")
    if level == "title":
        return _fields(blocks[0], ("title",), level)["title"]
    if level == "characters":
        out = []
        for block in blocks:
            f = _fields(block, ("name", "description"), level)
            out.append(Character(_name(f["name"], level, block[0][0]), f["description"]))
        names = [c.name for c in out]
        if len(set(names)) != len(names):
            raise PlanParseError(f"characters: names repeat: {names}")
        return tuple(out)
    if level == "beats":
        beats = [_fields(b, ("beat", "summary"), level) for b in blocks]
        return tuple(Beat(f["beat"], f["summary"]) for f in beats)
    if level == "scenes":
        return tuple(_scene(b) for b in blocks)
    if level == "places":
        places = [_fields(b, ("place", "description"), level) for b in blocks]
        return tuple(Place(f["place"], f["description"]) for f in places)
    if level == "dialogue":
        return _dialogue(blocks, cast)
    raise PlanParseError(f"level {level!r} is unknown; levels are: {', '.join(LEVELS)}")


def _scene(block: list[tuple[int, str]]) -> Scene:
    f = _fields(block, ("beat", "heading", "characters", "summary"), "scenes")
    match = HEADING_RE.match(f["heading"])
    if not match:
        raise PlanParseError(
            f"scenes, entry at line {block[0][0]}: heading {f['heading']!r} must look like "
            "INT. PLACE - DAY (INT. or EXT.; DAY, NIGHT, DAWN or DUSK)"
        )
    names = tuple(_name(n.strip(), "scenes", block[0][0]) for n in f["characters"].split(","))
    return Scene(f["beat"], match.group(1), match.group(2).title(), match.group(3), names, f["summary"])


def _dialogue(blocks: list[list[tuple[int, str]]], cast: tuple[str, ...]) -> SceneScript:
    rows = [row for block in blocks for row in block]
    number, first = rows[0]
    key, sep, action = first.partition(":")
    if key.strip().lower() != "action" or not action.strip():
        raise PlanParseError(f"dialogue, line {number}: expected 'Action: ...' first, found {first[:60]!r}")
    by_upper = {name.upper(): name for name in cast}
    lines = []
    for number, row in rows[1:]:
        speaker, sep, said = row.partition(":")
        name = by_upper.get(speaker.strip().upper())
        if not sep or not said.strip():
            raise PlanParseError(f"dialogue, line {number}: expected 'NAME: what they say', found {row[:60]!r}")
        if name is None:
            raise PlanParseError(
                f"dialogue, line {number}: {speaker.strip()!r} is not in the cast ({', '.join(cast)}); "
                "add the character first or fix the spelling"
            )
        lines.append(Line(name, said.strip()))
    return SceneScript(action.strip(), tuple(lines))


# ---- JSON (storage) ---------------------------------------------------------------------------


def to_data(value: Any) -> Any:
    """Entities as plain JSON data."""
    if isinstance(value, tuple | list):
        return [to_data(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    return value


def from_data(level: str, data: Any) -> Any:
    """Plain JSON data back into the entities of `level`."""
    if data is None:
        return None
    if level == "title" or level == "prose":
        return str(data)
    if level == "characters":
        return tuple(Character(**d) for d in data)
    if level == "beats":
        return tuple(Beat(**d) for d in data)
    if level == "scenes":
        return tuple(Scene(**{**d, "characters": tuple(d["characters"])}) for d in data)
    if level == "places":
        return tuple(Place(**d) for d in data)
    if level == "dialogue":
        return SceneScript(data["action"], tuple(Line(**line) for line in data["lines"]))
    raise PlanParseError(f"level {level!r} is unknown; levels are: {', '.join(LEVELS)}")
