"""Persona cards: who the streamer is, in plain YAML or SillyTavern's Character Card V2.

A persona is trusted text written by the show's team: name, system prompt, speaking style, voice,
backstory, catchphrases, topics to avoid and example dialogue. It must hold no secrets: an
audience can always try to make a character repeat its instructions (the canary benchmark shows
how often the embedded model can be made to), so nothing in it should matter if it leaks.

Character Card V2 (`spec: chara_card_v2`) is read from JSON or from the PNG a card is usually
shared as (a base64 `chara` text chunk), and written as JSON. Its fields map as: description and
personality → backstory and style, system_prompt → system_prompt, mes_example → example dialogue,
first_mes → greeting; fabula's own fields ride in `extensions.fabula`, so a round trip keeps them.
"""

from __future__ import annotations

import base64
import json
import re
import struct
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fabula.errors import InvalidParam

REQUIRED = ("name", "system_prompt", "style")
FIELDS = (
    "name",
    "system_prompt",
    "style",
    "voice",
    "rate_wpm",
    "backstory",
    "catchphrases",
    "avoid_topics",
    "greeting",
    "example_dialogue",
)


@dataclass(frozen=True)
class Persona:
    name: str
    system_prompt: str
    style: str
    voice: str = "en-us"  # an espeak-ng voice
    rate_wpm: int = 160  # speaking rate: times scripts and speech
    backstory: str = ""
    catchphrases: tuple[str, ...] = ()
    avoid_topics: tuple[str, ...] = ()
    greeting: str = ""
    example_dialogue: tuple[tuple[str, str], ...] = field(default=())  # (viewer, character) pairs

    def __post_init__(self) -> None:
        for key in REQUIRED:
            value = getattr(self, key)
            if not isinstance(value, str) or not value.strip():
                raise InvalidParam(key, value, f"a persona needs {', '.join(REQUIRED)} (non-empty text)")
        if len(self.name) > 60:
            raise InvalidParam("name", self.name, "at most 60 characters")
        if not isinstance(self.rate_wpm, int) or not 80 <= self.rate_wpm <= 300:
            raise InvalidParam("rate_wpm", self.rate_wpm, "words per minute, from 80 to 300")

    def system_text(self) -> str:
        """The trusted part of every prompt: instructions, style, backstory, limits, examples."""
        parts = [self.system_prompt.strip(), f"Speaking style: {self.style.strip()}"]
        if self.backstory:
            parts.append(f"Backstory: {self.backstory.strip()}")
        if self.catchphrases:
            parts.append("Catchphrases you sometimes use: " + "; ".join(self.catchphrases))
        if self.avoid_topics:
            parts.append("Never discuss: " + ", ".join(self.avoid_topics) + ". Change the subject kindly instead.")
        return "\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["catchphrases"] = list(self.catchphrases)
        data["avoid_topics"] = list(self.avoid_topics)
        data["example_dialogue"] = [{"viewer": v, "character": c} for v, c in self.example_dialogue]
        return data


def persona_from_dict(data: dict[str, Any], where: str = "persona") -> Persona:
    if not isinstance(data, dict):
        raise InvalidParam(where, type(data).__name__, "a persona is a mapping with name, system_prompt and style")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise InvalidParam(unknown[0], data[unknown[0]], f"a persona has: {', '.join(FIELDS)}")
    for key in REQUIRED:
        if key not in data:
            raise InvalidParam(key, None, f"a persona needs {', '.join(REQUIRED)}")
    values = dict(data)
    for key in ("catchphrases", "avoid_topics"):
        raw = values.get(key) or []
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
            raise InvalidParam(key, raw, "a list of strings")
        values[key] = tuple(x.strip() for x in raw if x.strip())
    pairs = []
    for i, turn in enumerate(values.get("example_dialogue") or []):
        if (
            not isinstance(turn, dict)
            or not isinstance(turn.get("viewer"), str)
            or not isinstance(turn.get("character"), str)
        ):
            raise InvalidParam(f"example_dialogue[{i}]", turn, "a pair {viewer: ..., character: ...}")
        pairs.append((turn["viewer"], turn["character"]))
    values["example_dialogue"] = tuple(pairs)
    return Persona(**values)


def load_persona(path: Path) -> Persona:
    """A persona from YAML, or a Character Card V2 as JSON or PNG."""
    if not path.is_file():
        raise InvalidParam("persona", str(path), "no such file")
    if path.suffix.lower() == ".png":
        try:
            return from_card_v2(read_png_card(path.read_bytes()))
        except InvalidParam as exc:  # the card's own words, with the file they are about
            raise InvalidParam("persona", str(path), exc.allowed) from None
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidParam("persona", str(path), f"is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidParam("persona", str(path), f"is not JSON ({exc.msg})") from None
        return from_card_v2(data) if "spec" in data or "data" in data else persona_from_dict(data)
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidParam("persona", str(path), f"is not valid YAML ({exc})") from None
    return persona_from_dict(data)


CARD_FORMATS = {".yaml": "yaml", ".yml": "yaml", ".json": "card-v2", ".png": "png"}


def save_persona(persona: Persona, path: Path, fmt: str | None = None) -> Path:
    """Write a persona as YAML, a Character Card V2 in JSON, or the same card inside a PNG (the
    `chara` text chunk SillyTavern reads). Without `fmt` the suffix decides; an unknown one is an error."""
    from fabula.files import write_atomic

    fmt = fmt or CARD_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidParam("out", str(path), "name the file .yaml, .json (Character Card V2) or .png (a card image)")
    if fmt == "card-v2":
        write_atomic(path, json.dumps(to_card_v2(persona), ensure_ascii=False, indent=2) + "\n")
    elif fmt == "yaml":
        import yaml

        write_atomic(path, yaml.safe_dump(persona.to_dict(), allow_unicode=True, sort_keys=False))
    elif fmt == "png":
        write_atomic(path, png_card(to_card_v2(persona)))
    else:
        raise InvalidParam("format", fmt, "yaml, card-v2 or png")
    return path


def png_card(card: dict[str, Any], size: tuple[int, int] = (400, 600)) -> bytes:
    """A card image with the card in its `chara` tEXt chunk (base64 JSON), written by Pillow."""
    import io

    from PIL import Image, ImageDraw
    from PIL.PngImagePlugin import PngInfo

    image = Image.new("RGB", size, (38, 50, 56))
    ImageDraw.Draw(image).text((24, 24), str(card["data"]["name"])[:40], fill=(236, 239, 241))
    info = PngInfo()
    info.add_text("chara", base64.b64encode(json.dumps(card, ensure_ascii=False).encode("utf-8")).decode("ascii"))
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info)
    return out.getvalue()


# ---- Character Card V2 ------------------------------------------------------------------------------

_EXAMPLE = re.compile(r"^\s*\{\{(user|char)\}\}\s*:\s*(.*)$", re.IGNORECASE)


def to_card_v2(persona: Persona) -> dict[str, Any]:
    examples = "".join(f"<START>\n{{{{user}}}}: {v}\n{{{{char}}}}: {c}\n" for v, c in persona.example_dialogue)
    return {
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": {
            "name": persona.name,
            "description": persona.backstory,
            "personality": persona.style,
            "scenario": "",
            "first_mes": persona.greeting,
            "mes_example": examples,
            "creator_notes": "Exported by fabula.",
            "system_prompt": persona.system_prompt,
            "post_history_instructions": "",
            "alternate_greetings": [],
            "tags": ["fabula", "streamer"],
            "creator": "",
            "character_version": "",
            "extensions": {
                "fabula": {
                    "voice": persona.voice,
                    "rate_wpm": persona.rate_wpm,
                    "catchphrases": list(persona.catchphrases),
                    "avoid_topics": list(persona.avoid_topics),
                }
            },
        },
    }


def from_card_v2(card: dict[str, Any]) -> Persona:
    if card.get("spec") != "chara_card_v2" or not isinstance(card.get("data"), dict):
        raise InvalidParam("spec", card.get("spec"), "expected a Character Card V2 (spec: chara_card_v2)")
    data = card["data"]
    ours = (data.get("extensions") or {}).get("fabula") or {}
    name = str(data.get("name", "")).strip()
    system = str(data.get("system_prompt") or "").strip() or f"You are {name}, a live streamer. Stay in character."
    style = str(data.get("personality") or "").strip() or "friendly and lively"
    pairs: list[tuple[str, str]] = []
    pending: str | None = None
    for line in str(data.get("mes_example") or "").splitlines():
        match = _EXAMPLE.match(line)
        if not match:
            continue
        role, text = match.group(1).lower(), match.group(2).strip()
        if role == "user":
            pending = text
        elif pending is not None:
            pairs.append((pending, text))
            pending = None
    return Persona(
        name=name,
        system_prompt=system,
        style=style,
        voice=str(ours.get("voice", "en-us")),
        rate_wpm=int(ours.get("rate_wpm", 160)),
        backstory=str(data.get("description") or "").strip(),
        catchphrases=tuple(ours.get("catchphrases", ())),
        avoid_topics=tuple(ours.get("avoid_topics", ())),
        greeting=str(data.get("first_mes") or "").strip(),
        example_dialogue=tuple(pairs),
    )


def read_png_card(png: bytes) -> dict[str, Any]:
    """The card inside a PNG: a tEXt (or zTXt) chunk keyed `chara` holding base64 JSON."""
    if not png.startswith(b"\x89PNG\r\n\x1a\n"):
        raise InvalidParam("persona", "png", "is not a PNG file")
    pos = 8
    while pos + 8 <= len(png):
        length, kind = struct.unpack(">I4s", png[pos : pos + 8])
        body = png[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind in (b"tEXt", b"zTXt"):
            key, _, value = body.partition(b"\x00")
            if key == b"chara":
                if kind == b"zTXt":
                    value = zlib.decompress(value[1:])
                try:
                    return json.loads(base64.b64decode(value))  # type: ignore[no-any-return]
                except (ValueError, json.JSONDecodeError) as exc:
                    raise InvalidParam("persona", "png", f"its chara chunk is not base64 JSON ({exc})") from None
    raise InvalidParam("persona", "png", "has no `chara` chunk: it is not a character card")
