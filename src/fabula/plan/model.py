"""A long-form plan: its levels, what is still to do, what depends on what, and its history.

A plan is the unit of a long job. It is saved after every step, so an interrupted job resumes at
the first step not yet done; every change (a generated level, a hand edit, a regenerated element)
first pushes the previous levels onto the history, so it can be undone.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from fabula.continuity.ledger import Fact
from fabula.errors import InvalidParam
from fabula.plan.bible import Entry
from fabula.plan.entities import from_data, to_data

KINDS = ("screenplay", "story")
TOP_LEVELS = ("title", "characters", "beats", "scenes", "places")
MAX_HISTORY = 50


@cache
def beat_templates() -> dict[str, dict[str, Any]]:
    text = resources.files("fabula.plan").joinpath("beats.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def template_beats(name: str) -> list[tuple[str, str]]:
    templates = beat_templates()
    if name not in templates:
        raise InvalidParam("template", name, f"beat templates are: {', '.join(templates)}")
    return [(b[0], b[1]) for b in templates[name]["beats"]]


@dataclass
class Plan:
    id: str
    kind: str  # screenplay | story
    logline: str
    template: str = "three-act"
    cast_size: int = 4
    seed: int = 0
    engine: str = ""
    model: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    title: str | None = None
    characters: tuple[Any, ...] | None = None
    beats: tuple[Any, ...] | None = None
    scenes: tuple[Any, ...] | None = None
    places: tuple[Any, ...] | None = None
    units: dict[int, Any] = field(default_factory=dict)  # scene index -> SceneScript or chapter prose
    bible: list[Entry] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)  # provenance of every step
    history: list[dict[str, Any]] = field(default_factory=list)
    regenerations: dict[str, int] = field(default_factory=dict)  # step -> times regenerated (new seeds)
    created_at: str = ""
    # unit index -> {"text": summary, "of": digest of the unit text it summarises}
    summaries: dict[int, dict[str, str]] = field(default_factory=dict)
    pins: list[Fact] = field(default_factory=list)  # the writer's facts, true from a unit on
    context: bool = True  # each unit is told the story so far (False: its own summary and the bible only)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidParam("kind", self.kind, f"plans are for: {', '.join(KINDS)}")
        template_beats(self.template)
        if not 2 <= self.cast_size <= 6:
            raise InvalidParam("cast", self.cast_size, "between 2 and 6 main characters")
        if not self.logline.strip():
            raise InvalidParam("logline", self.logline, "a plan needs a logline (one or two sentences)")

    @property
    def unit_level(self) -> str:
        return "dialogue" if self.kind == "screenplay" else "prose"

    def steps(self) -> list[str]:
        """Every step of the job in order: the top levels, then one per scene or chapter."""
        count = len(self.scenes) if self.scenes is not None else len(template_beats(self.template))
        return [*TOP_LEVELS, *(f"{self.unit_level}[{i}]" for i in range(count))]

    def done(self, step: str) -> bool:
        if step == "places":  # every scene's place described
            described = {p.name for p in self.places or ()}
            return self.places is not None and all(s.place in described for s in self.scenes or ())
        if step in TOP_LEVELS:
            return getattr(self, step) is not None
        return _index(step) in self.units

    def pending(self) -> list[str]:
        return [s for s in self.steps() if not self.done(s)]

    @property
    def complete(self) -> bool:
        return not self.pending()

    def get(self, level: str) -> Any:
        if level in TOP_LEVELS:
            return getattr(self, level)
        return self.units.get(_index(level))

    # ---- changes, with history -----------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {level: to_data(getattr(self, level)) for level in TOP_LEVELS} | {
            "units": {str(k): to_data(v) for k, v in self.units.items()}
        }

    def restore(self, snap: dict[str, Any]) -> None:
        for level in TOP_LEVELS:
            setattr(self, level, from_data(level, snap[level]))
        self.units = {int(k): from_data(self.unit_level, v) for k, v in snap["units"].items()}

    def remember(self, label: str) -> None:
        self.history.append({"label": label, "levels": self.snapshot()})
        del self.history[:-MAX_HISTORY]

    def add_to_bible(self, entry: Entry) -> None:
        """One entry per name (case does not count): a second would make injection ambiguous."""
        if any(e.name.lower() == entry.name.lower() for e in self.bible):
            raise InvalidParam("name", entry.name, "the bible already has an entry of that name; remove it first")
        self.bible.append(entry)

    def remove_from_bible(self, name: str) -> None:
        kept = [e for e in self.bible if e.name.lower() != name.lower()]
        if len(kept) == len(self.bible):
            entries = ", ".join(e.name for e in self.bible) or "none"
            raise InvalidParam("name", name, f"no entry of that name; entries: {entries}")
        self.bible = kept

    def undo(self) -> str:
        if not self.history:
            raise InvalidParam("undo", self.id, "nothing to undo: the plan has no earlier state")
        last = self.history.pop()
        self.restore(last["levels"])
        return str(last["label"])

    def invalidate_after(self, level: str) -> list[str]:
        """Clear what depends on `level` (so `resume` writes it again); returns what was cleared."""
        order = ("characters", "beats", "scenes", "places")
        cleared = []
        if level in order:
            for later in order[order.index(level) + 1 :]:
                if getattr(self, later) is not None:
                    setattr(self, later, None)
                    cleared.append(later)
            if self.units:
                cleared.append(f"{len(self.units)} {self.unit_level} units")
                self.units = {}
        return cleared

    # ---- storage -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "logline": self.logline,
            "template": self.template,
            "cast_size": self.cast_size,
            "seed": self.seed,
            "engine": self.engine,
            "model": self.model,
            "params": self.params,
            "levels": self.snapshot(),
            "bible": [to_data(e) for e in self.bible],
            "log": self.log,
            "history": self.history,
            "regenerations": self.regenerations,
            "created_at": self.created_at,
            "continuity": {
                "context": self.context,
                "summaries": {str(k): v for k, v in self.summaries.items()},
                "pins": [p.to_data() for p in self.pins],
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        plan = cls(
            id=data["id"],
            kind=data["kind"],
            logline=data["logline"],
            template=data["template"],
            cast_size=data["cast_size"],
            seed=data["seed"],
            engine=data["engine"],
            model=data["model"],
            params=data["params"],
            bible=[Entry(**{**e, "keywords": tuple(e["keywords"])}) for e in data["bible"]],
            log=data["log"],
            history=data["history"],
            regenerations=data.get("regenerations", {}),
            created_at=data["created_at"],
        )
        continuity = data.get("continuity", {})  # plans saved before the ledger have none
        plan.summaries = {int(k): v for k, v in continuity.get("summaries", {}).items()}
        plan.pins = [Fact.from_data(p) for p in continuity.get("pins", [])]
        plan.context = bool(continuity.get("context", not data.get("log")))  # an old plan kept its way
        plan.restore(data["levels"])
        return plan


def _index(step: str) -> int:
    try:
        return int(step[step.index("[") + 1 : step.index("]")])
    except ValueError:
        raise InvalidParam("step", step, "a scene step looks like dialogue[2] or prose[0]") from None
