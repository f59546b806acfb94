"""Contradictions between the facts of a story, each with the two places that disagree.

One pass over the ledger in story order keeps the state the rules need and reports:

- `dead_acts`: a character acts, moves or holds something after the sentence that killed them
  (a writer's pin "alive" brings them back; memories and quoted speech never count, see extract);
- `two_places`: a character is at two different places within a few sentences of one unit with
  no movement and no word of time passing between (a room and the building it may be in are one
  place), or somewhere other than a place the writer pinned;
- `lost_object_used`: an object lost, broken or destroyed is held or used later, before anyone
  finds or mends it;
- `attribute_changed`: eye or hair colour changes (a vague "dark" agrees with brown or black),
  an age changes within a unit or goes down, a relation between two characters changes;
- `name_changed`: a new name one or two letters from a name already used ("Marra" for "Mara");
- `time_backwards`: "later that morning" after "that evening" in one unit, or a date earlier
  than the last one given, where the unit does not announce a flashback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fabula.continuity.extract import english, lexicon
from fabula.continuity.ledger import Fact, ordered

KINDS = ("dead_acts", "two_places", "lost_object_used", "attribute_changed", "name_changed", "time_backwards")
NEAR = 4  # sentences: two places further apart than this may have had a move between them
COLOUR_NAMES = {"gray": "grey", "blonde": "blond", "golden": "blond"}
VAGUE = {
    "dark": {"brown", "black", "auburn", "chestnut", "hazel"},
    "fair": {"blond", "white", "silver", "red", "copper"},
}


@dataclass(frozen=True)
class Contradiction:
    kind: str
    entity: str
    first: Fact
    second: Fact
    detail: str

    def to_data(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "entity": self.entity,
            "first": self.first.where,
            "second": self.second.where,
            "detail": self.detail,
        }


def _colours_agree(a: str, b: str) -> bool:
    def words(value: str) -> set[str]:
        return {COLOUR_NAMES.get(w, w) for w in value.replace("-", " ").split()}

    x, y = words(a), words(b)
    if x & y:
        return True
    vague = [(v, other) for v in VAGUE for side, other in ((x, y), (y, x)) if v in side]
    return any(VAGUE[v] & other or not (other - {v}) for v, other in vague)


def _same_place(a: str, b: str) -> bool:
    lex = lexicon()
    inside = set(lex["rooms"])
    return a.lower() == b.lower() or a.lower() in inside or b.lower() in inside


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: insertions, deletions and substitutions, one each."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def _looks_like(new: str, old: str) -> bool:
    if new == old or new[0] != old[0] or len(old) < 4:
        return False
    limit = 1 if len(old) <= 6 else 2
    return edit_distance(new.lower(), old.lower()) <= limit and not english(new)


class _Checker:
    def __init__(self, flashback_units: set[int], cast: tuple[str, ...]) -> None:
        self.flashbacks = flashback_units
        self.cast = set(cast)
        self.found: list[Contradiction] = []
        self.dead: dict[str, Fact] = {}
        self.here: dict[str, Fact] = {}
        self.gone: dict[str, Fact] = {}
        self.fixed: dict[tuple[str, str], Fact] = {}
        self.names: dict[str, Fact] = {}
        self.now: Fact | None = None
        self.date: Fact | None = None
        self.unit = 0
        self.reported: set[tuple[str, str, int, int]] = set()
        self.index = {t: i for i, group in enumerate(lexicon()["day_times"]) for t in group}

    def report(self, kind: str, entity: str, first: Fact, second: Fact, detail: str) -> None:
        key = (kind, entity, second.unit, second.sentence)
        if key not in self.reported:
            self.reported.add(key)
            self.found.append(Contradiction(kind, entity, first, second, detail))

    def run(self, facts: list[Fact]) -> list[Contradiction]:
        for fact in ordered(facts):
            if fact.unit != self.unit:
                self.unit = fact.unit
                self.here = {k: v for k, v in self.here.items() if v.pinned}
                self.now = None
            getattr(self, f"_{fact.attribute}")(fact)
        return self.found

    # ---- one method per attribute -------------------------------------------------------------

    def _alive(self, fact: Fact) -> None:
        if fact.value == "dead":
            self.dead.setdefault(fact.entity, fact)
        else:
            self.dead.pop(fact.entity, None)

    def _check_alive(self, name: str, fact: Fact, doing: str) -> None:
        death = self.dead.get(name)
        if death is not None and (fact.unit, fact.sentence) > (death.unit, death.sentence):
            self.report(
                "dead_acts",
                name,
                death,
                fact,
                f"{name} is dead (chapter {death.unit}) but {doing} in chapter {fact.unit}",
            )

    def _acts(self, fact: Fact) -> None:
        self._check_alive(fact.entity, fact, fact.value)

    def _at(self, fact: Fact) -> None:
        self._check_alive(fact.entity, fact, f"is at the {fact.value}")
        self._place(fact)

    def _moves(self, fact: Fact) -> None:
        self._check_alive(fact.entity, fact, f"goes to the {fact.value}")
        pinned = self.here.get(fact.entity)
        if pinned is not None and pinned.pinned and not _same_place(pinned.value, fact.value):
            self._place(fact)
            return
        self.here[fact.entity] = fact

    def _place(self, fact: Fact) -> None:
        before = self.here.get(fact.entity)
        if before is not None and not _same_place(before.value, fact.value):
            near = before.pinned or (before.unit == fact.unit and fact.sentence - before.sentence <= NEAR)
            if near and not fact.pinned:
                where = "the writer pinned" if before.pinned else "a sentence before"
                self.report(
                    "two_places",
                    fact.entity,
                    before,
                    fact,
                    f"{fact.entity} is at the {before.value} ({where}) and at the {fact.value}, with no move between",
                )
                return
        if before is None or not before.pinned or fact.pinned:
            self.here[fact.entity] = fact

    def _passage(self, fact: Fact) -> None:
        self.here = {k: v for k, v in self.here.items() if v.pinned}

    def _holds(self, fact: Fact) -> None:
        self._check_alive(fact.entity, fact, f"holds the {fact.value}")
        self._use_object(fact.value, fact, f"{fact.entity} holds it")

    def _used(self, fact: Fact) -> None:
        if fact.note:  # the character who used it
            self._check_alive(fact.note, fact, f"{fact.value} the {fact.entity}")
        self._use_object(fact.entity, fact, f"{fact.note or 'someone'} {fact.value} it")

    def _use_object(self, thing: str, fact: Fact, doing: str) -> None:
        loss = self.gone.get(thing)
        if loss is not None and (fact.unit, fact.sentence) > (loss.unit, loss.sentence):
            self.report(
                "lost_object_used",
                thing,
                loss,
                fact,
                f"the {thing} was lost or destroyed (chapter {loss.unit}), then {doing}",
            )

    def _state(self, fact: Fact) -> None:
        if fact.value == "lost":
            self.gone[fact.entity] = fact
        else:
            self.gone.pop(fact.entity, None)

    def _eyes(self, fact: Fact) -> None:
        before = self.fixed.get((fact.entity, fact.attribute))
        self._fixed(fact, before is None or _colours_agree(before.value, fact.value))

    _hair = _eyes

    def _fixed(self, fact: Fact, agrees: bool) -> None:
        key = (fact.entity, fact.attribute)
        before = self.fixed.get(key)
        if before is not None and not agrees and not fact.pinned:
            was, now = f"{before.value} (chapter {before.unit})", f"{fact.value} (chapter {fact.unit})"
            detail = f"{fact.entity}'s {fact.attribute}: {was}, then {now}"
            self.report("attribute_changed", fact.entity, before, fact, detail)
            return
        if before is None or fact.pinned or not before.pinned:
            self.fixed[key] = fact

    def _age(self, fact: Fact) -> None:
        before = self.fixed.get((fact.entity, "age"))
        agrees = True
        if before is not None:
            old, new = int(before.value), int(fact.value)
            grew = new > old and (fact.unit > before.unit or fact.note == "turned")
            agrees = new == old or grew or (new < old and fact.unit in self.flashbacks)
        self._fixed(fact, agrees)

    def _relation(self, fact: Fact) -> None:
        relation, _, other = fact.value.partition(" of ")
        key = (fact.entity, f"relation to {other}")
        before = self.fixed.get(key)
        if before is not None and before.value.partition(" of ")[0] != relation:
            self.report(
                "attribute_changed",
                fact.entity,
                before,
                fact,
                f"{fact.entity} is {before.value} (chapter {before.unit}), then {fact.value} (chapter {fact.unit})",
            )
            return
        self.fixed.setdefault(key, fact)

    def _knows(self, fact: Fact) -> None:
        return  # recorded in the ledger; what a character knows is not checked by rule

    def _name(self, fact: Fact) -> None:
        name = fact.entity
        if name in self.names:
            return
        for old, first in self.names.items():
            if not (name in self.cast and old in self.cast) and _looks_like(name, old):
                self.report(
                    "name_changed",
                    name,
                    first,
                    fact,
                    f"{name!r} (chapter {fact.unit}) looks like {old!r} (chapter {first.unit}) misspelt",
                )
                return
        self.names[name] = fact

    def _time_of_day(self, fact: Fact) -> None:
        before = self.now
        self.now = fact
        if fact.note != "same day" or before is None or fact.unit in self.flashbacks:
            return
        if self.index[fact.value] < self.index[before.value]:
            detail = f"{fact.value} comes after {before.value} on the same day"
            self.report("time_backwards", "time", before, fact, detail)

    def _date(self, fact: Fact) -> None:
        before = self.date
        if before is not None and fact.value.startswith("0000") and not before.value.startswith("0000"):
            fact = Fact(
                fact.entity,
                fact.attribute,
                before.value[:4] + fact.value[4:],
                fact.unit,
                fact.sentence,
                fact.text,
                fact.note,
            )
        if before is not None and fact.value < before.value and fact.unit not in self.flashbacks:
            if before.value[:4] == fact.value[:4] or "0000" not in (before.value[:4], fact.value[:4]):
                self.report("time_backwards", "date", before, fact, f"{fact.value} comes after {before.value}")
                return
        self.date = fact


def flashback_units(units_text: dict[int, str]) -> set[int]:
    """The units that announce going back in time ("years earlier", "the night before")."""
    words = [w.lower() for w in lexicon()["flashbacks"]]
    return {n for n, text in units_text.items() if any(w in text.lower() for w in words)}


def contradictions(facts: list[Fact], units_text: dict[int, str], cast: tuple[str, ...] = ()) -> list[Contradiction]:
    """Every contradiction among `facts` (extracted and pinned), in story order of the later place."""
    return _Checker(flashback_units(units_text), cast).run(facts)
