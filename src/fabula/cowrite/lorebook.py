"""Story bibles in and out of SillyTavern World Info (`.json`) and NovelAI lorebooks (`.lorebook`).

Both formats are a list of entries with keys, content, an order and an enabled flag, plus many
fields of their own (SillyTavern's recursion, probability, groups, depth; NovelAI's context
configuration, categories, bias groups). fabula's bible uses four of them (name, keywords, text,
enabled) and its order; everything else is kept verbatim with the entry and written back on
export, so a file imported and exported again has every field it had. Entries that are always
active (SillyTavern `constant`, NovelAI `forceActivation`) become style notes, which the bible
always injects.

SillyTavern: `{"entries": {"0": {"uid", "key": [...], "keysecondary", "comment", "content",
"constant", "order", "disable", ...}}}` (public/scripts/world-info.js, `newWorldInfoEntryTemplate`).
NovelAI: `{"lorebookVersion": 5, "entries": [{"text", "displayName", "keys": [...], "enabled",
"forceActivation", "contextConfig": {"budgetPriority", ...}, ...}], "settings", "categories"}`.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from fabula.errors import InvalidParam

FORMATS = ("sillytavern", "novelai")


def detect(data: Any, name: str) -> str:
    if isinstance(data, dict) and isinstance(data.get("entries"), list) and "lorebookVersion" in data:
        return "novelai"
    if isinstance(data, dict) and isinstance(data.get("entries"), dict):
        return "sillytavern"
    raise InvalidParam("file", name, "is neither SillyTavern World Info ({'entries': {...}}) nor a NovelAI lorebook")


def _keys(value: Any) -> list[str]:
    if isinstance(value, str):
        return [k.strip() for k in value.split(",") if k.strip()]
    return [str(k).strip() for k in value or [] if str(k).strip()]


def read_lorebook(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(bible entries, the file's other top-level fields) from either format."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidParam("file", str(path), f"is not a JSON lorebook ({exc})") from None
    return parse_lorebook(data, str(path))


def parse_lorebook(data: Any, name: str = "lorebook") -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The same, from the parsed JSON (an upload)."""
    fmt = detect(data, name)
    meta = {"format": fmt, "top": {k: v for k, v in data.items() if k != "entries"}}
    entries: list[dict[str, Any]] = []
    if fmt == "sillytavern":
        for slot, raw in data["entries"].items():
            keys = _keys(raw.get("key"))
            entries.append(
                {
                    "kind": "style" if raw.get("constant") else "fact",
                    "name": str(raw.get("comment") or (keys[0] if keys else f"entry {slot}")),
                    "text": str(raw.get("content", "")),
                    "keywords": keys,
                    "enabled": not raw.get("disable", False),
                    "order": raw.get("order", 100),
                    "origin": {"format": fmt, "slot": slot, "entry": raw},
                }
            )
    else:
        for i, raw in enumerate(data["entries"]):
            keys = _keys(raw.get("keys"))
            entries.append(
                {
                    "kind": "style" if raw.get("forceActivation") else "fact",
                    "name": str(raw.get("displayName") or (keys[0] if keys else f"entry {i + 1}")),
                    "text": str(raw.get("text", "")),
                    "keywords": keys,
                    "enabled": bool(raw.get("enabled", True)),
                    "order": (raw.get("contextConfig") or {}).get("budgetPriority", 400),
                    "origin": {"format": fmt, "slot": str(i), "entry": raw},
                }
            )
    return entries, meta


def _origin(entry: dict[str, Any], fmt: str) -> dict[str, Any]:
    origin = entry.get("origin") or {}
    return copy.deepcopy(origin["entry"]) if origin.get("format") == fmt else {}


def to_sillytavern(entries: list[dict[str, Any]], meta: dict[str, Any] | None = None) -> dict[str, Any]:
    top = copy.deepcopy((meta or {}).get("top", {})) if (meta or {}).get("format") == "sillytavern" else {}
    out: dict[str, Any] = {}
    for i, entry in enumerate(entries):
        raw = _origin(entry, "sillytavern")
        slot = (entry.get("origin") or {}).get("slot") if raw else None
        raw.setdefault("uid", i)
        raw.setdefault("keysecondary", [])
        raw.setdefault("selective", True)
        raw.setdefault("position", 0)
        raw.setdefault("probability", 100)
        raw.setdefault("useProbability", True)
        raw.setdefault("depth", 4)
        raw.update(
            key=list(entry.get("keywords", [])),
            comment=entry["name"],
            content=entry["text"],
            constant=entry.get("kind") == "style",
            order=entry.get("order", 100),
            disable=not entry.get("enabled", True),
        )
        out[str(slot if slot is not None else i)] = raw
    return {**top, "entries": out}


def to_novelai(entries: list[dict[str, Any]], meta: dict[str, Any] | None = None) -> dict[str, Any]:
    top = copy.deepcopy((meta or {}).get("top", {})) if (meta or {}).get("format") == "novelai" else {}
    top.setdefault("lorebookVersion", 5)
    top.setdefault("settings", {"orderByKeyLocations": False})
    top.setdefault("categories", [])
    out = []
    for entry in entries:
        raw = _origin(entry, "novelai")
        config = raw.setdefault("contextConfig", {})
        config["budgetPriority"] = entry.get("order", 400)
        raw.update(
            text=entry["text"],
            displayName=entry["name"],
            keys=list(entry.get("keywords", [])),
            enabled=bool(entry.get("enabled", True)),
            forceActivation=entry.get("kind") == "style",
        )
        out.append(raw)
    return {**top, "entries": out}


def lorebook_json(entries: list[dict[str, Any]], meta: dict[str, Any] | None, fmt: str) -> dict[str, Any]:
    if fmt not in FORMATS:
        raise InvalidParam("format", fmt, f"one of: {', '.join(FORMATS)}")
    return to_novelai(entries, meta) if fmt == "novelai" else to_sillytavern(entries, meta)


def write_lorebook(entries: list[dict[str, Any]], meta: dict[str, Any] | None, path: Path) -> str:
    """Write `.lorebook` as NovelAI's format and `.json` as SillyTavern's; returns the format."""
    from fabula.files import write_atomic

    suffix = path.suffix.lower()
    if suffix not in (".json", ".lorebook"):
        raise InvalidParam("output", str(path), "name it .json (SillyTavern World Info) or .lorebook (NovelAI)")
    fmt = "novelai" if suffix == ".lorebook" else "sillytavern"
    data = lorebook_json(entries, meta, fmt)
    write_atomic(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    return fmt
