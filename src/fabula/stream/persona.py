"""Persona cards: who the streamer is, in plain YAML or SillyTavern's Character Card V2.

A persona is trusted text written by the show's team: name, system prompt, speaking style, voice,
backstory, catchphrases, topics to avoid and example dialogue. It must hold no secrets: an
audience can always try to make a character repeat its instructions (the canary benchmark shows
how often the embedded model can be made to), so nothing in it should matter if it leaks.

Character cards as SillyTavern writes them are read from JSON or from the PNG a card is usually
shared as (a base64 `chara` text chunk, or `ccv3` for V3): V1 (the fields at the top level), V2
(`spec: chara_card_v2`) and V3 (`chara_card_v3`). They are written as V2 JSON or PNG. The fields map
as: description and personality → backstory and style, system_prompt → system_prompt, scenario →
scenario (in the system text), mes_example → example dialogue, first_mes and alternate_greetings →
greetings, character_book → the lorebook (an entry's content joins the prompt when one of its keys
appears in the chat, as SillyTavern's World Info does). The macros `{{char}}` and `{{user}}` are
replaced: `{{char}}` by the name when the card is read, `{{user}}` by whom the character speaks to
when the prompt is built. Every other field of the card is kept as it came (`card`), and fabula's
own ride in `extensions.fabula`, so a round trip loses nothing.
"""

from __future__ import annotations

import base64
import json
import re
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
    "scenario",
    "alternate_greetings",
    "lorebook",
    "card",
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
    scenario: str = ""
    alternate_greetings: tuple[str, ...] = ()
    # SillyTavern's character_book entries, as the card has them: keys, content, enabled, constant,
    # insertion_order, case_sensitive, ... (kept whole, so an export gives them back)
    lorebook: tuple[dict[str, Any], ...] = ()
    # the card's other fields as they came (creator_notes, tags, post_history_instructions, ...)
    card: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for key in REQUIRED:
            value = getattr(self, key)
            if not isinstance(value, str) or not value.strip():
                raise InvalidParam(key, value, f"a persona needs {', '.join(REQUIRED)} (non-empty text)")
        if len(self.name) > 60:
            raise InvalidParam("name", self.name, "at most 60 characters")
        if not isinstance(self.rate_wpm, int) or not 80 <= self.rate_wpm <= 300:
            raise InvalidParam("rate_wpm", self.rate_wpm, "words per minute, from 80 to 300")

    def system_text(self, user: str = "the viewers") -> str:
        """The trusted part of every prompt: instructions, style, backstory, scenario, limits.
        `{{user}}` becomes `user`: whom the character is speaking to."""
        parts = [self.system_prompt.strip(), f"Speaking style: {self.style.strip()}"]
        if self.backstory:
            parts.append(f"Backstory: {self.backstory.strip()}")
        if self.scenario:
            parts.append(f"Scenario: {self.scenario.strip()}")
        if self.catchphrases:
            parts.append("Catchphrases you sometimes use: " + "; ".join(self.catchphrases))
        if self.avoid_topics:
            parts.append("Never discuss: " + ", ".join(self.avoid_topics) + ". Change the subject kindly instead.")
        return user_macro("\n".join(parts), user)

    def lore_for(self, text: str, budget: int = 1200) -> list[str]:
        """Lorebook entries that `text` calls up (a key appears in it; `constant` ones always), in
        their insertion order, within `budget` characters, as SillyTavern's World Info inserts them."""
        low = text.casefold()
        picked = []
        for entry in sorted(self.lorebook, key=lambda e: int(e.get("insertion_order", 100) or 100)):
            if entry.get("enabled", True) is False or not str(entry.get("content", "")).strip():
                continue
            keys = [str(k) for k in entry.get("keys") or [] if str(k).strip()]
            sensitive = bool(entry.get("case_sensitive"))
            hit = any((k in text) if sensitive else (k.casefold() in low) for k in keys)
            if entry.get("constant") or hit:
                picked.append(str(entry["content"]).strip())
        out, used = [], 0
        for content in picked:
            if used + len(content) > budget:
                break
            out.append(content)
            used += len(content)
        return out

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["catchphrases"] = list(self.catchphrases)
        data["avoid_topics"] = list(self.avoid_topics)
        data["example_dialogue"] = [{"viewer": v, "character": c} for v, c in self.example_dialogue]
        data["alternate_greetings"] = list(self.alternate_greetings)
        data["lorebook"] = [dict(e) for e in self.lorebook]
        for key in ("scenario", "alternate_greetings", "lorebook", "card"):
            if not data[key]:
                del data[key]  # a plain persona's YAML stays as short as before
        return data


def user_macro(text: str, user: str) -> str:
    return re.sub(r"\{\{user\}\}", lambda _: user, text, flags=re.IGNORECASE)


def char_macro(text: str, name: str) -> str:
    return re.sub(r"\{\{char\}\}", lambda _: name, text, flags=re.IGNORECASE)


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
    for key in ("catchphrases", "avoid_topics", "alternate_greetings"):
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
    lore = values.get("lorebook") or []
    if not isinstance(lore, list) or not all(isinstance(e, dict) for e in lore):
        raise InvalidParam("lorebook", lore, "a list of entries {keys, content, ...}")
    values["lorebook"] = tuple(lore)
    if not isinstance(values.get("card", {}), dict):
        raise InvalidParam("card", values["card"], "the card's other fields, as a mapping")
    return Persona(**values)


def load_persona(path: Path) -> Persona:
    """A persona from YAML, or a character card (V1, V2, V3) as JSON or PNG."""
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
        is_card = isinstance(data, dict) and bool(
            set(data) & {"spec", "data", "first_mes", "mes_example", "description"}
        )
        return from_card_v2(data) if is_card else persona_from_dict(data)
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
    kept = dict(persona.card)
    extensions = dict(kept.pop("extensions", {}) or {})
    data = {
        "creator_notes": "Exported by fabula.",
        "post_history_instructions": "",
        "tags": ["fabula", "streamer"],
        "creator": "",
        "character_version": "",
        **kept,  # what the card came with and fabula has no field for, as it came
        "name": persona.name,
        "description": persona.backstory,
        "personality": persona.style,
        "scenario": persona.scenario,
        "first_mes": persona.greeting,
        "mes_example": examples,
        "system_prompt": persona.system_prompt,
        "alternate_greetings": list(persona.alternate_greetings),
        "extensions": extensions
        | {
            "fabula": {
                "voice": persona.voice,
                "rate_wpm": persona.rate_wpm,
                "catchphrases": list(persona.catchphrases),
                "avoid_topics": list(persona.avoid_topics),
            }
        },
    }
    if persona.lorebook or "character_book" in kept:
        book = dict(kept.get("character_book") or {})
        data["character_book"] = book | {"entries": [dict(e) for e in persona.lorebook]}
    return {"spec": "chara_card_v2", "spec_version": "2.0", "data": data}


CARD_FIELDS = {
    "name", "description", "personality", "scenario", "first_mes", "mes_example", "system_prompt",
    "alternate_greetings", "character_book",
}  # fmt: skip


def card_data(card: dict[str, Any]) -> dict[str, Any]:
    """The character's fields from a V1 card (at the top level), V2 or V3 (under `data`)."""
    spec = card.get("spec")
    if spec in ("chara_card_v2", "chara_card_v3"):
        if not isinstance(card.get("data"), dict):
            raise InvalidParam("data", card.get("data"), f"a {spec} card keeps its fields under data")
        return dict(card["data"])
    if spec is None and isinstance(card.get("name"), str) and ("description" in card or "first_mes" in card):
        return {k: v for k, v in card.items() if k not in ("spec", "spec_version")}  # V1
    raise InvalidParam("spec", spec, "expected a character card: V1, V2 (chara_card_v2) or V3 (chara_card_v3)")


def from_card_v2(card: dict[str, Any]) -> Persona:
    """A persona from a Character Card (V1, V2 or V3; the name is kept for what it is mostly given)."""
    data = card_data(card)
    ours = (data.get("extensions") or {}).get("fabula") or {}
    name = str(data.get("name", "")).strip()

    def text(key: str) -> str:
        return char_macro(str(data.get(key) or ""), name).strip()

    system = text("system_prompt") or f"You are {name}, a live streamer. Stay in character."
    style = text("personality") or "friendly and lively"
    pairs: list[tuple[str, str]] = []
    pending: str | None = None
    for line in str(data.get("mes_example") or "").splitlines():
        match = _EXAMPLE.match(line)
        if not match:
            continue
        role, said = match.group(1).lower(), char_macro(match.group(2), name).strip()
        if role == "user":
            pending = said
        elif pending is not None:
            pairs.append((pending, said))
            pending = None
    book = data.get("character_book") or {}
    entries = book.get("entries") if isinstance(book, dict) else None
    if entries is not None and (not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries)):
        raise InvalidParam("character_book.entries", type(entries).__name__, "a list of entries")
    alternates = data.get("alternate_greetings") or []
    if not isinstance(alternates, list):
        raise InvalidParam("alternate_greetings", alternates, "a list of greetings")
    kept = {k: v for k, v in data.items() if k not in CARD_FIELDS}
    if isinstance(book, dict) and book:
        kept["character_book"] = {k: v for k, v in book.items() if k != "entries"}
    extensions = {k: v for k, v in (kept.get("extensions") or {}).items() if k != "fabula"}
    kept["extensions"] = extensions
    return Persona(
        name=name,
        system_prompt=system,
        style=style,
        voice=str(ours.get("voice", "en-us")),
        rate_wpm=int(ours.get("rate_wpm", 160)),
        backstory=text("description"),
        catchphrases=tuple(ours.get("catchphrases", ())),
        avoid_topics=tuple(ours.get("avoid_topics", ())),
        greeting=text("first_mes"),
        example_dialogue=tuple(pairs),
        scenario=text("scenario"),
        alternate_greetings=tuple(char_macro(str(g), name).strip() for g in alternates if str(g).strip()),
        lorebook=tuple(dict(e) for e in entries or ()),
        card=kept if any(v for v in kept.values()) else {},
    )


def read_png_card(png: bytes) -> dict[str, Any]:
    """The card inside a PNG: a tEXt (or zTXt, iTXt) chunk keyed `chara`, or `ccv3` for V3,
    holding base64 JSON; the chunks are read by Pillow."""
    import io

    from PIL import Image, UnidentifiedImageError

    if not png.startswith(b"\x89PNG\r\n\x1a\n"):
        raise InvalidParam("persona", "png", "is not a PNG file")
    try:
        with Image.open(io.BytesIO(png)) as image:
            image.load()  # text chunks after the image data are read too
            chunks = dict(getattr(image, "text", {}) or {})
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InvalidParam("persona", "png", f"is a damaged PNG ({exc})") from None
    found = {}
    for key in ("ccv3", "chara"):  # a V3 card carries both; its own chunk is the complete one
        if key in chunks:
            try:
                found[key] = json.loads(base64.b64decode(chunks[key]))
            except (ValueError, json.JSONDecodeError) as exc:
                raise InvalidParam("persona", "png", f"its {key} chunk is not base64 JSON ({exc})") from None
    if found:
        return found.get("ccv3") or found["chara"]  # type: ignore[no-any-return]
    raise InvalidParam("persona", "png", "has no `chara` chunk: it is not a character card")
