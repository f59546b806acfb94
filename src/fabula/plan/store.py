"""Plans on disk: one JSON file per plan under FABULA_HOME/plans, written atomically.

A plan is rewritten after every step of a long job, so a crash or Ctrl-C loses at most the step
in flight; the file is replaced by rename, so it is never half written. Ids are the same
time-ordered ids as works, and a unique prefix is enough to name one.
"""

from __future__ import annotations

import json
from pathlib import Path

from fabula.errors import NotFound
from fabula.plan.model import Plan
from fabula.store.works import user_folder, write_atomic


class PlanStore:
    """`owner` (an API user) gets a folder of their own, named by a hash of the user id so that no
    id can reach outside it; without one (the CLI, local mode) plans live in home/plans."""

    def __init__(self, home: Path, owner: str | None = None) -> None:
        self.root = user_folder(home, owner) / "plans"

    def path(self, plan_id: str) -> Path:
        return self.root / f"{plan_id}.json"

    def save(self, plan: Plan) -> None:
        write_atomic(self.path(plan.id), json.dumps(plan.to_dict(), ensure_ascii=False, indent=1))

    def resolve(self, prefix: str) -> str:
        if not isinstance(prefix, str) or not prefix.isalnum():
            raise NotFound(f"no plan with id {prefix!r}; see `fabula plan list`")
        ids = sorted(p.stem for p in self.root.glob("*.json")) if self.root.exists() else []
        matches = [i for i in ids if i.startswith(prefix)]
        if not prefix or not matches:
            raise NotFound(f"no plan with id {prefix!r}; see `fabula plan list`")
        if len(matches) > 1:
            raise NotFound(f"id prefix {prefix!r} names {len(matches)} plans; give more of the id")
        return matches[0]

    def load(self, prefix: str) -> Plan:
        plan_id = self.resolve(prefix)
        return Plan.from_dict(json.loads(self.path(plan_id).read_text(encoding="utf-8")))

    def list(self) -> list[Plan]:
        if not self.root.exists():
            return []
        return [self.load(p.stem) for p in sorted(self.root.glob("*.json"), reverse=True)]
