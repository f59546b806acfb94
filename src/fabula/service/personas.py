"""Persona cards kept in FABULA_HOME/personas: one file-name rule for every surface.

The file name is the card's name made safe: lower-case ASCII letters, digits and `-`. A name with
no such letter at all (月兔, Лиса) would otherwise shrink to nothing and collide with every other
one, so it is named by a short hash of the name instead: two cards only share a file when they
share a name.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

from fabula.errors import InvalidParam, NotFound
from fabula.stream.persona import Persona, load_persona, save_persona

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,59}")


def persona_slug(name: str) -> str:
    """The file stem for a persona called `name` (`Captain Mira` -> `captain-mira`)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")[:60].strip("-")
    if slug:
        return slug
    return "persona-" + hashlib.sha256(name.strip().encode("utf-8")).hexdigest()[:12]


class PersonaStore:
    """The personas every surface sees: imported from a card, found by name or file stem."""

    def __init__(self, home: Path) -> None:
        self.root = home / "personas"

    def path(self, name: str) -> Path:
        """The card file of a persona named by its stem (`captain-mira`) or its own name."""
        stem = name if SLUG.fullmatch(name or "") else persona_slug(name or "")
        if not name or not SLUG.fullmatch(stem):
            raise InvalidParam("persona", name, "a persona's name or file stem (lower-case letters, digits and -)")
        path = self.root / f"{stem}.yaml"
        if not path.is_file():
            raise NotFound(f"no persona {name!r}: import its card first (YAML, or Character Card V2 JSON or PNG)")
        return path

    def load(self, name: str) -> Persona:
        return load_persona(self.path(name))

    def add(self, card: Path, out: Path | None = None) -> tuple[Persona, Path]:
        """Read a card (YAML, Character Card V2 JSON or PNG) and keep it as fabula's YAML."""
        persona = load_persona(card)
        target = out or self.root / f"{persona_slug(persona.name)}.yaml"
        save_persona(persona, target, "yaml")
        return persona, target

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.root.glob("*.yaml")) if self.root.is_dir() else []
