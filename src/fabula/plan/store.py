"""Plans on disk: one JSON file per plan under FABULA_HOME/plans, written atomically.

A plan is rewritten after every step of a long job, so a crash or Ctrl-C loses at most the step
in flight; the file is replaced by rename, so it is never half written. Ids are the same
time-ordered ids as works, and a unique prefix is enough to name one.
"""

from __future__ import annotations

import json
from pathlib import Path

from fabula.errors import ConfigError, NotFound
from fabula.files import write_atomic
from fabula.plan.model import Plan
from fabula.store.works import user_folder


class PlanStore:
    """`owner` (an API user) gets a folder of their own, named by a hash of the user id so that no
    id can reach outside it, and sees only that folder. Without one (the CLI, a local-mode server:
    the machine's operator) new plans go to home/plans, and every user's plans are seen too, as
    every user's works are: a plan made in the studio is listed and edited by `fabula plan`."""

    def __init__(self, home: Path, owner: str | None = None) -> None:
        self.root = user_folder(home, owner) / "plans"
        self.folders = [self.root]
        if owner is None and (home / "users").is_dir():
            self.folders += sorted(p / "plans" for p in (home / "users").iterdir() if (p / "plans").is_dir())

    def path(self, plan_id: str) -> Path:
        """Where the plan is (in whichever folder holds it), or where a new one goes."""
        for folder in self.folders:
            found = folder / f"{plan_id}.json"
            if found.is_file():
                return found
        return self.root / f"{plan_id}.json"

    def _ids(self) -> list[str]:
        return sorted({p.stem for folder in self.folders if folder.exists() for p in folder.glob("*.json")})

    def save(self, plan: Plan) -> None:
        write_atomic(self.path(plan.id), json.dumps(plan.to_dict(), ensure_ascii=False, indent=1))

    def resolve(self, prefix: str) -> str:
        if not isinstance(prefix, str) or not prefix.isalnum():
            raise NotFound(f"no plan with id {prefix!r}; see `fabula plan list`")
        ids = self._ids()
        matches = [i for i in ids if i.startswith(prefix)]
        if not prefix or not matches:
            raise NotFound(f"no plan with id {prefix!r}; see `fabula plan list`")
        if len(matches) > 1:
            raise NotFound(f"id prefix {prefix!r} names {len(matches)} plans; give more of the id")
        return matches[0]

    def load(self, prefix: str) -> Plan:
        plan_id = self.resolve(prefix)
        path = self.path(plan_id)
        try:
            return Plan.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:  # not JSON, or not a plan
            raise ConfigError(
                f"plan file {path} is damaged ({type(exc).__name__}: {str(exc)[:120]}); "
                "restore it from a backup, or move it aside to forget the plan"
            ) from None

    def list(self) -> list[Plan]:
        return [self.load(plan_id) for plan_id in reversed(self._ids())]
