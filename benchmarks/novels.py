"""Published English prose the checks must pass: every paragraph of Austen's six novels and of
Moby-Dick, installed from Debian packages (shared by the safety and language benchmarks)."""

from __future__ import annotations

import re

from fabula.data.austen import fetch_austen
from fabula.data.melville import fetch_mobydick
from fabula.settings import get_settings


def paragraphs() -> dict[str, list[str]]:
    """{"austen": [...], "mobydick": [...]}: each book's paragraphs, in order."""
    home = get_settings().ensure_home() / "data"
    fetch_austen(home / "austen")
    fetch_mobydick(home / "mobydick")
    out = {}
    for name in ("austen", "mobydick"):
        texts = [f.read_text("utf-8") for f in sorted((home / name).glob("*.txt"))]
        out[name] = [p for text in texts for p in re.split(r"\n\s*\n", text) if p.strip()]
    return out
