"""The continuity report of a manuscript or of a plan's units: its ledger and contradictions.

This is the contract `fabula continuity check FILE --json` prints (and the API returns):
`{"contradictions": [{"kind", "entity", "first": {"chapter", "sentence"}, "second": {...},
"detail"}], "ledger": {...}}`, where a place is the chapter number and the sentence's text (with
its number in the chapter), and the ledger is the story's state at the end with every value cited.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fabula.continuity.checks import contradictions
from fabula.continuity.extract import Extractor, find_names
from fabula.continuity.ledger import Fact, Ledger
from fabula.continuity.manuscript import Unit, split_units


def build_ledger(units: list[Unit], cast: Iterable[str] = (), pins: Iterable[Fact] = ()) -> Ledger:
    """Every fact of every unit (a name is cited once per unit, where it first appears)."""
    extractor = Extractor(find_names(units, cast))
    facts: list[Fact] = []
    named: set[tuple[str, int]] = set()
    for unit in units:
        for i, sentence in enumerate(unit.sentences, 1):
            for fact in extractor.facts(unit.number, i, sentence):
                if fact.attribute == "name":
                    if (fact.entity, unit.number) in named:
                        continue
                    named.add((fact.entity, unit.number))
                facts.append(fact)
    return Ledger(facts, list(pins))


def report(units: list[Unit], cast: Iterable[str] = (), pins: Iterable[Fact] = ()) -> dict[str, Any]:
    cast = tuple(cast)
    ledger = build_ledger(units, cast, pins)
    found = contradictions(ledger.all(), {u.number: u.text for u in units}, cast)
    return {
        "contradictions": [c.to_data() for c in found],
        "ledger": ledger.state(),
        "units": [{"chapter": u.number, "heading": u.heading, "sentences": len(u.sentences)} for u in units],
    }


def check_manuscript(text: str, cast: Iterable[str] = ()) -> dict[str, Any]:
    """The report of a Markdown or plain-text manuscript (chapters by headings)."""
    return report(split_units(text), cast)
