"""The continuity ledger: every fact the story states, each citing its unit and sentence.

A fact is a typed triple (entity, attribute, value) plus where it was said. The ledger keeps them
in story order and folds them into the state a writer reads: for each character where they are,
alive or dead, what they hold, what they know, their relations and fixed attributes; for each
object its holder and whether it still exists; the time of day and the date. A writer can pin a
fact (NovelCrafter's "progression"): true from unit k on, whatever the text says, so a check
holds the story to it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from fabula.errors import InvalidParam

PINNABLE = ("alive", "at", "holds", "state", "eyes", "hair", "age", "relation", "knows")


@dataclass(frozen=True)
class Fact:
    """One thing the story states. `attribute` is one of: alive ("dead" from here on), acts (the
    verb), at (a place, not moving), moves (a place gone to), holds (an object), state (an
    object "lost" or "found"), used (the verb; `note` names who), eyes, hair, age (years),
    relation ("sister of Mara"), knows, time_of_day (`note`: "same day" or "new day"), date
    (YYYY-MM-DD, year 0 when none is given), passage (a word of time passing), name."""

    entity: str
    attribute: str
    value: str
    unit: int  # 1-based unit (chapter or scene) the fact comes from
    sentence: int  # 1-based sentence in that unit; 0 for a pinned fact
    text: str  # the sentence itself, or the writer's note for a pin
    note: str = ""  # e.g. "same day" / "new day" for a time of day, "turned" for an age
    pinned: bool = False

    @property
    def where(self) -> dict[str, Any]:
        return {"chapter": self.unit, "sentence": self.text, "sentence_number": self.sentence, "pinned": self.pinned}

    def to_data(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Fact:
        return cls(**data)


def pin(entity: str, attribute: str, value: str, unit: int, note: str = "") -> Fact:
    """A writer's fact, true from `unit` on; the values are checked here, where the writer typed them."""
    if attribute not in PINNABLE:
        raise InvalidParam("attribute", attribute, f"a pinned fact is one of: {', '.join(PINNABLE)}")
    if not entity.strip() or not value.strip():
        raise InvalidParam("fact", f"{entity}={value}", "a pinned fact needs an entity and a value")
    if unit < 1:
        raise InvalidParam("from", unit, "units count from 1")
    if attribute == "alive" and value not in ("dead", "alive"):
        raise InvalidParam("value", value, "alive is 'dead' or 'alive'")
    if attribute == "age" and not value.isdigit():
        raise InvalidParam("value", value, "an age is a whole number of years")
    if attribute == "state" and value not in ("lost", "found"):
        raise InvalidParam("value", value, "an object's state is 'lost' or 'found'")
    text = note or f"pinned by the writer: {entity} {attribute} {value} from unit {unit}"
    return Fact(entity.strip(), attribute, value.strip().lower(), unit, 0, text, pinned=True)


def ordered(facts: list[Fact]) -> list[Fact]:
    """Story order; a pin comes before the text of the unit it starts at."""
    return sorted(facts, key=lambda f: (f.unit, f.sentence))


@dataclass
class Ledger:
    facts: list[Fact]
    pins: list[Fact]

    def all(self) -> list[Fact]:
        return ordered([*self.facts, *self.pins])

    def state(self, upto: int | None = None) -> dict[str, Any]:
        """What is true after unit `upto` (all units when None), each value with its citation."""
        characters: dict[str, dict[str, Any]] = {}
        objects: dict[str, dict[str, Any]] = {}
        time: dict[str, Any] = {}

        def cite(fact: Fact) -> dict[str, Any]:
            return {"value": fact.value, **fact.where}

        for fact in self.all():
            if upto is not None and fact.unit > upto:
                break
            a = fact.attribute
            if a in ("state", "used"):
                obj = objects.setdefault(fact.entity, {})
                if a == "state":
                    obj["state"] = cite(fact)
                    holder = obj.pop("holder", None) if fact.value == "lost" else None
                    if holder is not None:  # a lost thing is no longer in anyone's hand
                        held = characters.get(holder["value"], {}).get("holds", [])
                        held[:] = [h for h in held if h["value"] != fact.entity]
                continue
            if a in ("time_of_day", "date"):
                time[a] = cite(fact)
                continue
            if a in ("passage", "name"):
                continue
            person = characters.setdefault(fact.entity, {})
            if a == "alive":
                person["alive"] = {**cite(fact), "value": fact.value != "dead"}
            elif a in ("at", "moves"):
                person["place"] = cite(fact)
            elif a == "holds":
                person.setdefault("holds", []).append(cite(fact))
                objects.setdefault(fact.value, {})["holder"] = {**cite(fact), "value": fact.entity}
            elif a in ("knows", "relation"):
                person.setdefault(a if a == "knows" else "relations", []).append(cite(fact))
            elif a in ("eyes", "hair", "age"):
                person.setdefault("attributes", {})[a] = cite(fact)
        return {
            "characters": characters,
            "objects": objects,
            "time": time,
            "facts": len(self.facts),
            "pins": len(self.pins),
        }

    def to_data(self) -> dict[str, Any]:
        return {"facts": [f.to_data() for f in self.facts], "pins": [f.to_data() for f in self.pins]}

    @classmethod
    def from_data(cls, data: dict[str, Any] | None) -> Ledger:
        data = data or {}
        return cls(
            [Fact.from_data(f) for f in data.get("facts", [])], [Fact.from_data(f) for f in data.get("pins", [])]
        )
