"""JSON Schemas for each plan level, built from what the plan already holds.

Decoding under these schemas (llama.cpp's JSON-schema grammars) makes each level parse and hold
together by construction: beats are exactly the template's beats in order, a scene names only
characters from the cast, dialogue is spoken only by characters present in the scene, and the
cast's names are distinct because each starts with a letter from its own part of the alphabet (a
screenwriting rule of thumb anyway: names that look alike confuse readers).
"""

from __future__ import annotations

import string
from typing import Any

from fabula.plan.entities import SETTINGS, TIMES

NAME_PART = "[a-z]{2,9}"
# free text in a JSON string: no quote, backslash, raw line break or tab (JSON does not allow
# them unescaped, and a screenplay line is one line)
TEXT = r'[^"\\\n\r\t]'


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": list(properties), "properties": properties}


def _text(least: int, most: int) -> dict[str, Any]:
    """Sentences: a capital, then a lower-case letter or a space (no SHOUTED headings or cues).
    The end is left free: requiring a full stop made the model ramble to the length limit (tried:
    median screenplay time 50 -> 72 s, and lines ending in a forced "E.")."""
    if least < 2:
        raise ValueError(f"a sentence has at least 2 characters (a capital and a letter), not {least}")
    return {"type": "string", "pattern": f"^[A-Z][a-z ,']{TEXT}{{{least - 2},{most - 2}}}$"}


def _tuple(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "array", "prefixItems": items, "minItems": len(items), "maxItems": len(items)}


def initial_groups(count: int) -> list[str]:
    """The alphabet cut into `count` runs of initials, the rarer letters spread across them."""
    letters = [c for c in string.ascii_uppercase if c not in "QXYZ"]
    size, extra = divmod(len(letters), count)
    groups, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        groups.append("".join(letters[start:end]))
        start = end
    return groups


def name_schema(initials: str) -> dict[str, Any]:
    return {"type": "string", "pattern": f"^[{initials}]{NAME_PART}$"}


def title_schema() -> dict[str, Any]:
    words = "( [A-Za-z][a-z']{0,13}){0,6}"
    return _object({"title": {"type": "string", "pattern": f"^[A-Z][a-z']{{1,13}}{words}[.!?]?$"}})


def characters_schema(count: int) -> dict[str, Any]:
    people = [
        _object({"name": name_schema(initials), "description": _text(20, 200)}) for initials in initial_groups(count)
    ]
    return _object({"characters": _tuple(people)})


def character_schema(taken: list[str]) -> dict[str, Any]:
    """One new character whose initial no other character has."""
    free = "".join(c for c in string.ascii_uppercase if c not in {n[0] for n in taken} and c not in "QXYZ")
    return _object({"name": name_schema(free or "ABCDEFGHIJKLMNOPRSTUVW"), "description": _text(20, 200)})


def beats_schema(names: list[str]) -> dict[str, Any]:
    return _object({"beats": _tuple([_object({"beat": {"const": n}, "summary": _text(20, 220)}) for n in names])})


def _scene(beat: str, cast: list[str]) -> dict[str, Any]:
    return _object(
        {
            "beat": {"const": beat},
            "setting": {"enum": list(SETTINGS)},
            "place": {"type": "string", "pattern": "^[A-Z][a-z]{2,11}( [A-Z][a-z]{2,11}){0,2}$"},
            "time": {"enum": list(TIMES)},
            "characters": {
                "type": "array",
                "items": {"enum": cast},
                "minItems": min(2, len(cast)),  # a scene of dialogue needs two people
                "maxItems": min(3, len(cast)),
            },
            "summary": _text(20, 220),
        }
    )


def scenes_schema(beats: list[str], cast: list[str]) -> dict[str, Any]:
    return _object({"scenes": _tuple([_scene(b, cast) for b in beats])})


def scene_schema(beat: str, cast: list[str]) -> dict[str, Any]:
    return _scene(beat, cast)


def places_schema(names: list[str]) -> dict[str, Any]:
    return _object({"places": _tuple([_object({"place": {"const": n}, "description": _text(20, 240)}) for n in names])})


def dialogue_schema(present: list[str], most_lines: int = 8) -> dict[str, Any]:
    line = _object({"character": {"enum": present}, "line": _text(3, 160)})
    return _object(
        {"action": _text(10, 260), "lines": {"type": "array", "items": line, "minItems": 2, "maxItems": most_lines}}
    )
