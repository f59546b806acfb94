"""Facts from sentences, by rules a reader can check: precision first, every fact cited.

The rules read narration, not speech: what a character says inside quotation marks is their
claim, not the story's state, so quoted passages are blanked before any rule runs (the speaker
after the quote still counts: `"Come," said Tom.` is Tom acting). A sentence that recalls, wishes
or supposes ("Mara remembered how Tom laughed", "as if Tom were there") states no event about the
names after that word. Pronouns are not resolved: "She died" gives no fact rather than a guess.
The word lists live in `lexicon.toml`.

Names come from the cast where one is known, else from the text: a capitalised word used
mid-sentence (or followed by an action or a possessive), not a function word, a weekday or a
month, and not a word the same text also uses in lower case as a plain word ("Hope", "hope").
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any

from fabula.continuity.ledger import Fact
from fabula.continuity.manuscript import Unit

NUMBERS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen".split()
    )
}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
UNITS = "one two three four five six seven eight nine".split()
NUMBER = (
    rf"(?:\d{{1,3}}|(?:{'|'.join(TENS)})(?:[- ](?:{'|'.join(UNITS)}))?"
    rf"|{'|'.join(sorted(NUMBERS, key=len, reverse=True))})"
)
QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”|‘[^’]*’(?!\w)")
CAPITALISED = re.compile(r"\b[A-Z][a-z]{1,19}\b")
LOWER_WORD = re.compile(r"\b[a-z]+\b")
# a word of a noun phrase: not a preposition, an article or a conjunction ("the key in the sea"
# is the key)
GLUE = (
    "in on at to the a an of with from into and but or by for as over under onto off up down out back away "
    "that which who while when before after again too then among amongst beside behind near inside across "
    "through along around against beneath below above between beyond toward towards like without within "
    "upon there here until where so because if lying sitting standing"
).split()
PHRASE_WORD = rf"(?!(?:{'|'.join(GLUE)})\b)[a-z]+"
PHRASE = rf"(?:{PHRASE_WORD}\s+){{0,2}}{PHRASE_WORD}"


@cache
def lexicon() -> dict[str, Any]:
    text = resources.files("fabula.continuity").joinpath("lexicon.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _alt(words: Iterable[str]) -> str:
    """A regex alternation of phrases, longest first, spaces as any white space."""
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in sorted(set(words), key=len, reverse=True))


def number_value(text: str) -> int:
    text = text.lower().replace("-", " ")
    if text.isdigit():
        return int(text)
    parts = text.split()
    if parts[0] in TENS:
        return TENS[parts[0]] + (NUMBERS[parts[1]] if len(parts) > 1 else 0)
    return NUMBERS[parts[0]]


def english(word: str) -> bool:
    from wordfreq import zipf_frequency

    return zipf_frequency(word.lower(), "en") >= 3.0


def narration(sentence: str) -> str:
    """The sentence with quoted speech blanked out (its length kept, so offsets still line up)."""
    return QUOTED.sub(lambda m: " " * len(m.group(0)), sentence)


def find_names(units: list[Unit], cast: Iterable[str] = ()) -> list[str]:
    """The names of characters (and named places) in a manuscript; see the module docstring."""
    lex = lexicon()
    stop = set(lex["not_names"])
    follow = re.compile(rf"^(?:'s\b|’s\b|\s+(?:{_alt([*lex['actions'], *lex['deaths'], *lex['stays']])})\b)")
    lowered = {w for u in units for s in u.sentences for w in LOWER_WORD.findall(s)}
    mid: set[str] = set()  # seen capitalised inside a sentence: a name, not a sentence's first word
    initial: set[str] = set()
    for unit in units:
        for sentence in unit.sentences:
            text = narration(sentence)
            first = re.search(r"[A-Za-z]", text)
            for m in CAPITALISED.finditer(text):
                word = m.group(0)
                if word in stop:
                    continue
                if first is not None and m.start() == first.start():
                    # "Marra folded ..." and "Mara smiled" start with a name; "Walking home, ..." and
                    # "Raiders came ..." (a plural noun) with words: names only if also written
                    # capitalised mid-sentence
                    plural = word.endswith("s") and english(word[:-1])
                    if (follow.match(text[m.end() :]) and not plural) or not english(word):
                        initial.add(word)
                else:
                    mid.add(word)
    found = mid | initial
    names = [w for w in sorted(found) if w.lower() not in lowered]
    return list(dict.fromkeys([*(n.split()[0] for n in cast if n.strip()), *sorted(names)]))


class Extractor:
    """The rules, compiled once for a set of names."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = [n for n in dict.fromkeys(names) if n]
        lex = self.lex = lexicon()
        # a first name, and a surname after it where one is written ("Eliza Fenn, aged thirty,")
        name = rf"(?P<name>{_alt(self.names)})(?:\s+[A-Z][a-z]+(?=[,'’\s]))?" if self.names else r"(?P<name>(?!x)x)"
        obj = rf"(?:the|her|his|their|its|a|an)\s+(?P<obj>{PHRASE})"
        place = rf"(?:(?:the|her|his|their)\s+(?P<place>{PHRASE})|(?P<named>[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?))"
        self.name = re.compile(rf"\b{name}\b")
        self.death = re.compile(rf"\b{name}\s+(?:{_alt(lex['deaths'])})\b")
        # "Tom fell from the cliff and died": the name, a short clause, "and", the death
        self.death_after = re.compile(rf"\b{name}(?:\s+[a-z]+){{1,6}}?,?\s+and\s+(?:{_alt(lex['deaths'])})\b")
        self.killing = re.compile(
            rf"\b(?<!nearly )(?<!almost )(?<!never )(?<!not )(?:{_alt(lex['killings'])})\s+{name}\b"
        )
        self.remains = re.compile(rf"\b{name}(?:'s|’s)\s+(?:{_alt(lex['remains'])})\b")
        self.act = re.compile(rf"\b{name}\s+(?:[a-z]+ly\s+)?(?P<verb>{_alt(lex['actions'])})\b")
        self.said = re.compile(
            rf"\b(?P<verb>said|asked|replied|whispered|shouted|called|cried|answered|muttered)\s+{name}\b"
        )
        self.stay = re.compile(
            rf"\b{name}\s+(?:{_alt(lex['stays'])})\s+(?:still\s+|alone\s+|already\s+|now\s+|back\s+)?(?:in|at|inside)\s+{place}"
        )
        self.move = re.compile(
            rf"\b{name}\s+(?:[a-z]+ly\s+)?(?:{_alt(lex['moves'])})\s+(?:back\s+|home\s+|out\s+)?(?:to|into|toward|towards|at|inside|in)\s+{place}"
        )
        self.hold = re.compile(rf"\b{name}\s+(?:{_alt(lex['holds'])})\s+{obj}")
        self.lose = re.compile(rf"\b{name}\s+(?:{_alt(lex['losses'])})\s+{obj}")
        self.lost = re.compile(
            rf"\b(?:the|her|his|their)\s+(?P<obj>{PHRASE})\s+(?:was|were|lay|is)\s+(?:now\s+)?(?:{_alt(lex['lost_states'])})\b"
        )
        self.recover = re.compile(rf"\b{name}\s+(?:{_alt(lex['recoveries'])})\s+{obj}")
        self.use = re.compile(rf"\b{name}\s+(?:[a-z]+ly\s+)?(?P<verb>{_alt(lex['uses'])})\s+{obj}")
        # "Mara unlocked the door with the key": the key is used too
        self.use_with = re.compile(
            rf"\b{name}\s+(?:[a-z]+ly\s+)?(?P<verb>{_alt([*lex['uses'], *lex['actions']])})\b"
            rf"[^.;!?]{{0,40}}?\bwith\s+{obj}"
        )
        colour = rf"(?P<colour>(?:{_alt(lex['colours'])})(?:[- ](?:{_alt(lex['colours'])}))?)"
        feature = rf"(?P<feature>{_alt(lex['features'])})"
        self.feature = [
            re.compile(rf"\b{name}(?:'s|’s)\s+{colour}\s+{feature}"),
            re.compile(rf"\b{name}(?:'s|’s)\s+{feature}\s+(?:was|were|had\s+been)\s+{colour}\b"),
            re.compile(rf"\b{name}\s+had\s+{colour}\s+{feature}"),
            re.compile(rf"\b{name},?\s+(?:with|whose)\s+{colour}\s+{feature}"),
        ]
        self.age = [
            re.compile(rf"\b{name},\s+(?:aged\s+)?(?P<age>{NUMBER}),"),
            re.compile(
                rf"\b{name}\s+(?P<turned>was|is|turned)\s+(?P<age>{NUMBER})(?=\s+years\s+old|\s*[.;,!]|\s+and\b)"
            ),
        ]
        rel = _alt(lex["relations"])
        who = _alt(self.names) or "(?!x)x"
        self.relation = [  # "Mara's sister Ruth", "Ruth, Mara's sister"
            re.compile(rf"\b(?P<name>{who})(?:'s|’s)\s+(?P<rel>{rel}),?\s+(?P<other>{who})\b"),
            re.compile(rf"\b(?P<other>{who}),\s+(?P<name>{who})(?:'s|’s)\s+(?P<rel>{rel})\b"),
        ]
        self.knows = re.compile(
            rf"\b{name}\s+(?:knew|learned|learnt|discovered|realised|realized|found\s+out)\s+that\s+(?P<what>[^.;!?]+)"
        )
        times = [t for group in lex["day_times"] for t in group]
        prefixes = ["later that", "that same", "the same", "the next", "the following", "next", "that", "this"]
        prefixes += ["one", "in the", "by", "at", "before"]
        prefix = rf"(?P<prefix>{_alt(prefixes)})"
        self.time_of_day = re.compile(rf"\b(?:{prefix}\s+)?(?P<time>{_alt(times)})\b", re.IGNORECASE)
        month = _alt(lex["months"])
        self.dates = [
            re.compile(
                rf"\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<month>{month})(?:,?\s+(?P<year>\d{{4}}))?\b",
                re.IGNORECASE,
            ),
            re.compile(
                rf"\b(?P<month>{month})\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<year>\d{{4}}))?\b",
                re.IGNORECASE,
            ),
        ]
        self.passage = re.compile(rf"\b(?P<word>{_alt(lex['passages'])})\b", re.IGNORECASE)
        self.irrealis = re.compile(rf"\b(?:{_alt(lex['irrealis'])})\b", re.IGNORECASE)
        self.day_index = {t: i for i, group in enumerate(lex["day_times"]) for t in group}

    # ---- helpers --------------------------------------------------------------------------------

    def _real(self, text: str, at: int) -> bool:
        """False where a memory, wish or supposition word comes before `at` in the sentence."""
        return self.irrealis.search(text[:at]) is None

    def _object(self, phrase: str) -> str | None:
        """The head noun of an object phrase ("the old brass lantern" -> "lantern"), or None for a
        word that is not a thing (an abstract noun, a body part)."""
        words = phrase.split()
        head = words[-1]
        if head in self.lex["not_objects"] or len(head) < 3:
            return None
        return head

    def _place(self, m: re.Match[str]) -> str | None:
        if m.group("named"):
            return m.group("named")
        phrase = m.group("place")
        words = phrase.split()
        # "the lamp room" is a room, "the old lighthouse" a lighthouse: the last word, or the
        # last two where the lexicon lists them together
        two = " ".join(words[-2:])
        return two if len(words) > 1 and two in self.lex["rooms"] else words[-1]

    # ---- the rules ------------------------------------------------------------------------------

    def facts(self, unit: int, number: int, sentence: str) -> list[Fact]:
        """Every fact the rules find in one sentence (1-based `number` within `unit`)."""
        text = narration(sentence)
        out: list[Fact] = []

        def add(entity: str, attribute: str, value: str, note: str = "") -> None:
            fact = Fact(entity, attribute, value, unit, number, sentence, note)
            if fact not in out:
                out.append(fact)

        for m in self.passage.finditer(text):  # first: the sentence begins after the time passed
            add("story", "passage", m.group("word").lower())
        for m in self.name.finditer(text):
            add(m.group("name"), "name", m.group("name"))
        for rx in (self.death, self.death_after, self.killing, self.remains):
            for m in rx.finditer(text):
                if self._real(text, m.start()):
                    add(m.group("name"), "alive", "dead")
        for rx in (self.act, self.said):
            for m in rx.finditer(text):
                if self._real(text, m.start()):
                    add(m.group("name"), "acts", m.group("verb"))
        for m in self.stay.finditer(text):
            where = self._place(m)
            if where and self._real(text, m.start()):
                add(m.group("name"), "at", where)
        for m in self.move.finditer(text):
            where = self._place(m)
            if where and self._real(text, m.start()):
                add(m.group("name"), "moves", where)
        self._objects(text, add)
        self._attributes(text, add)
        self._time(text, add)
        return out

    def _objects(self, text: str, add: Any) -> None:
        for m in self.hold.finditer(text):
            thing = self._object(m.group("obj"))
            if thing and self._real(text, m.start()):
                add(m.group("name"), "holds", thing)
        for m in [*self.use.finditer(text), *self.use_with.finditer(text)]:
            thing = self._object(m.group("obj"))
            if thing and self._real(text, m.start()):
                add(thing, "used", m.group("verb"), note=m.group("name"))
        for m in self.lose.finditer(text):
            thing = self._object(m.group("obj"))
            if thing and self._real(text, m.start()):
                add(thing, "state", "lost", note=m.group(0))
        for m in self.lost.finditer(text):
            thing = self._object(m.group("obj"))
            if thing and self._real(text, m.start()):
                add(thing, "state", "lost", note=m.group(0))
        for m in self.recover.finditer(text):
            thing = self._object(m.group("obj"))
            if thing:
                add(thing, "state", "found", note=m.group(0))

    def _attributes(self, text: str, add: Any) -> None:
        for rx in self.feature:
            for m in rx.finditer(text):
                add(m.group("name"), m.group("feature"), m.group("colour").lower())
        for rx in self.age:
            for m in rx.finditer(text):
                turned = "turned" if "turned" in (m.groupdict().get("turned") or "") else ""
                add(m.group("name"), "age", str(number_value(m.group("age"))), note=turned)
        for rx in self.relation:
            for m in rx.finditer(text):
                if m.group("name") != m.group("other"):
                    add(m.group("other"), "relation", f"{m.group('rel')} of {m.group('name')}")
        for m in self.knows.finditer(text):
            add(m.group("name"), "knows", " ".join(m.group("what").split()))

    def _time(self, text: str, add: Any) -> None:
        for m in self.time_of_day.finditer(text):
            prefix = " ".join((m.group("prefix") or "").lower().split())
            if prefix in ("the next", "the following", "next"):
                note = "new day"
            elif prefix in self.lex["same_day"]:
                note = "same day"
            else:
                note = ""
            add("time", "time_of_day", m.group("time").lower(), note=note)
        months = self.lex["months"]
        for rx in self.dates:
            for m in rx.finditer(text):
                day = int(m.group("day"))
                if 1 <= day <= 31:
                    year = int(m.group("year") or 0)
                    month = months.index(m.group("month").lower()) + 1
                    add("time", "date", f"{year:04d}-{month:02d}-{day:02d}")
