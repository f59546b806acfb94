"""Manuscripts on disk: one JSON file each under FABULA_HOME/manuscripts, written atomically.

A manuscript is rewritten after every change (the writer's edit or a chosen candidate), and the
file is replaced by rename, so what was acknowledged survives a crash or a restart whole. Owners
get folders of their own as plans do (`store.works.user_folder`); without an owner (the CLI, a
local-mode server) every manuscript is seen. Changes to one manuscript are serialised by a lock
per file, so two requests cannot both read the old version and one of them be lost.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fabula.cowrite.manuscript import Manuscript
from fabula.errors import ConfigError, NotFound
from fabula.files import write_atomic
from fabula.store.works import user_folder

_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock(path: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(path.resolve(), threading.Lock())


class ManuscriptStore:
    def __init__(self, home: Path, owner: str | None = None) -> None:
        self.root = user_folder(home, owner) / "manuscripts"
        self.folders = [self.root]
        if owner is None and (home / "users").is_dir():
            self.folders += sorted(
                p / "manuscripts" for p in (home / "users").iterdir() if (p / "manuscripts").is_dir()
            )

    def path(self, manuscript_id: str) -> Path:
        for folder in self.folders:
            found = folder / f"{manuscript_id}.json"
            if found.is_file():
                return found
        return self.root / f"{manuscript_id}.json"

    def _ids(self) -> list[str]:
        return sorted({p.stem for f in self.folders if f.exists() for p in f.glob("*.json")})

    def create(self, title: str) -> Manuscript:
        from fabula.pipeline import new_work_id

        manuscript = Manuscript(new_work_id(), " ".join(title.split()) or "Untitled")
        self.save(manuscript)
        return manuscript

    def save(self, manuscript: Manuscript) -> None:
        write_atomic(self.path(manuscript.id), json.dumps(manuscript.to_dict(), ensure_ascii=False, indent=1))

    def resolve(self, prefix: str) -> str:
        if not isinstance(prefix, str) or not prefix.isalnum():
            raise NotFound(f"no manuscript with id {prefix!r}; see `fabula draft list`")
        matches = [i for i in self._ids() if i.startswith(prefix)]
        if not matches:
            raise NotFound(f"no manuscript with id {prefix!r}; see `fabula draft list`")
        if len(matches) > 1:
            raise NotFound(f"id prefix {prefix!r} names {len(matches)} manuscripts; give more of the id")
        return matches[0]

    def load(self, prefix: str) -> Manuscript:
        path = self.path(self.resolve(prefix))
        try:
            return Manuscript.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            raise ConfigError(
                f"manuscript file {path} is damaged ({type(exc).__name__}: {str(exc)[:120]}); "
                "restore it from a backup, or move it aside"
            ) from None

    @contextmanager
    def changing(self, prefix: str) -> Iterator[Manuscript]:
        """Load, let the caller change, save: one writer at a time per manuscript; nothing is saved
        if the change raises."""
        path = self.path(self.resolve(prefix))
        with _lock(path):
            manuscript = self.load(prefix)
            yield manuscript
            self.save(manuscript)

    def list(self) -> list[Manuscript]:
        return [self.load(i) for i in reversed(self._ids())]
