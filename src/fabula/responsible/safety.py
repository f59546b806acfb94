"""Safety policy: an offline classifier (rules and lexicons) and per-project levels above a floor.

Like Gemini's safety settings, each category has an adjustable level (low, medium, high, off: the
score at which it blocks), and some have a floor, a core protection no setting can loosen: asking
for a level more permissive than the floor is an error naming the floor, and `threshold()` applies
the floor again whatever the policy holds. The same policy checks prompts, audience chat and
outputs; a blocked output is raised as `Blocked` (with the categories and scores, never the
text), so no surface can return it as if it were the work.

Text is normalised first so that simple disguises do not pass: NFKC, zero-width and combining
marks removed, Cyrillic and Greek look-alikes mapped to Latin, digits inside words read as
letters (k1ll), and spaced-out letters joined (k i l l).
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from fabula.errors import InvalidParam, Rejected

ORDER = ("low", "medium", "high", "off")  # strict to permissive
INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]"
)
LOOKALIKES = str.maketrans("аеорсухіјѕԁһӏαεορτυνκ", "aeopcyxijsdhlaeoptuvk")
LEET = str.maketrans("013457", "oieast")
LEET_WORD = re.compile(r"\b(?=\w*[a-z])(?=\w*[013457])\w+\b")
SPACED = re.compile(r"\b(?:[a-z][ .\-_*]){2,}[a-z]\b")
WINDOW = re.compile(r"[^.!?\n]+[.!?\n]*")
QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"|‘[^’]*’|«[^»]*»|「[^」]*」")


class Blocked(Rejected):
    """A prompt or an output the safety policy blocks; it carries the verdict, not the text."""

    def __init__(self, message: str, verdict: dict[str, Any]) -> None:
        self.verdict = verdict
        super().__init__(message)


@dataclass(frozen=True)
class Rule:
    category: str
    names: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...]
    weight: float
    per_match: bool = False


@dataclass(frozen=True)
class Rules:
    levels: dict[str, float]
    categories: dict[str, dict[str, Any]]
    rules: tuple[Rule, ...]


@lru_cache(maxsize=1)
def load_rules() -> Rules:
    data = tomllib.loads(resources.files("fabula.responsible").joinpath("safety_rules.toml").read_text("utf-8"))
    patterns = {name: re.compile(p, re.IGNORECASE) for name, p in data["patterns"].items()}
    rules = tuple(
        Rule(
            r["category"],
            tuple(r["all"]),
            tuple(patterns[p] for p in r["all"]),
            float(r["weight"]),
            bool(r.get("per_match")),
        )
        for r in data["rules"]
    )
    return Rules(dict(data["levels"]), dict(data["categories"]), rules)


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = INVISIBLE.sub("", unicodedata.normalize("NFKC", text)).lower().translate(LOOKALIKES)
    text = LEET_WORD.sub(lambda m: m.group().translate(LEET), text)
    return SPACED.sub(lambda m: re.sub(r"[ .\-_*]", "", m.group()), text)


def _windows(text: str) -> list[tuple[int, str]]:
    """Each sentence joined with the next, with its start offset."""
    sentences = [(m.start(), m.group()) for m in WINDOW.finditer(text)]
    return [
        (start, text + (sentences[i + 1][1] if i + 1 < len(sentences) else ""))
        for i, (start, text) in enumerate(sentences)
    ]


def classify(text: str) -> dict[str, dict[str, Any]]:
    """Per category: a score in 0..1 and the rules that fired (with the matched words)."""
    rules = load_rules()
    norm = normalise(text)
    quoted = [(m.start(), m.end()) for m in QUOTED.finditer(norm)]
    out: dict[str, dict[str, Any]] = {c: {"score": 0.0, "hits": []} for c in rules.categories}
    for rule in rules.rules:
        discount = float(rules.categories[rule.category].get("dialogue_discount", 1.0))
        weights: list[float] = []
        hits: list[str] = []
        for start, window in _windows(norm):
            found = [_search(name, p, window) for name, p in zip(rule.names, rule.patterns, strict=True)]
            if not all(found):
                continue
            first = found[0]
            assert first is not None
            at = start + first.start()
            inside = any(a <= at < b for a, b in quoted)
            weight = rule.weight * (discount if inside else 1.0)
            count = len(rule.patterns[0].findall(window)) if rule.per_match else 1
            weights.extend([weight] * count)
            hits.append(" + ".join(m.group() for m in found if m))
            if not rule.per_match:
                break
        if weights:
            entry = out[rule.category]
            for weight in weights[:8]:
                entry["score"] = 1 - (1 - entry["score"]) * (1 - weight)
            entry["hits"].append({"rule": "+".join(rule.names), "words": hits[:3]})
    for entry in out.values():
        entry["score"] = round(entry["score"], 3)
    return out


def luhn(digits: str) -> bool:
    """The payment-card checksum: random 16-digit strings pass it one time in ten."""
    numbers = [int(d) for d in digits if d.isdigit()]
    total = sum(n if i % 2 == 0 else (n * 2 - 9 if n > 4 else n * 2) for i, n in enumerate(reversed(numbers)))
    return len(numbers) >= 13 and total % 10 == 0


def _search(name: str, pattern: re.Pattern[str], window: str) -> re.Match[str] | None:
    if name != "card":
        return pattern.search(window)
    return next((m for m in pattern.finditer(window) if luhn(m.group())), None)


@dataclass(frozen=True)
class SafetyPolicy:
    """Levels per category (missing ones take their default), never looser than the floor."""

    levels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rules = load_rules()
        for category, level in self.levels.items():
            if category not in rules.categories:
                raise InvalidParam("safety", category, f"unknown category; known: {', '.join(rules.categories)}")
            if level not in ORDER:
                raise InvalidParam(f"safety.{category}", level, f"choose one of {', '.join(ORDER)}")
            floor = rules.categories[category]["floor"]
            if ORDER.index(level) > ORDER.index(floor):
                raise InvalidParam(
                    f"safety.{category}",
                    level,
                    f"the floor for {category} is {floor}; it can be made stricter, never looser",
                )

    @classmethod
    def parse(cls, spec: str) -> SafetyPolicy:
        """From "hate=low,graphic_violence=medium" (FABULA_SAFETY, the CLI's --safety)."""
        levels = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            name, eq, level = part.partition("=")
            if not eq:
                raise InvalidParam("safety", part, "write category=level, e.g. hate=low")
            levels[name.strip()] = level.strip()
        return cls(levels)

    def level(self, category: str) -> str:
        spec = load_rules().categories[category]
        chosen = self.levels.get(category, spec["default"])
        return min(chosen, spec["floor"], key=ORDER.index)  # the floor holds whatever was asked

    def threshold(self, category: str) -> float | None:
        level = self.level(category)
        return None if level == "off" else float(load_rules().levels[level])

    def check(self, text: str, where: str = "output") -> dict[str, Any]:
        """The verdict: blocked or not, which categories, every score, and the levels applied."""
        scores = classify(text)
        blocked = []
        for category, entry in scores.items():
            limit = self.threshold(category)
            if limit is not None and entry["score"] >= limit:
                blocked.append(category)
        return {
            "where": where,
            "blocked": bool(blocked),
            "categories": blocked,
            "scores": {c: e["score"] for c, e in scores.items() if e["score"] > 0},
            "hits": {c: e["hits"] for c, e in scores.items() if e["hits"]},
            "levels": {c: self.level(c) for c in scores},
        }

    def enforce(self, text: str, where: str) -> dict[str, Any]:
        """The verdict, or Blocked when the text may not pass."""
        verdict = self.check(text, where)
        if verdict["blocked"]:
            details = ", ".join(f"{c} ({verdict['scores'][c]:.2f} >= {self.level(c)})" for c in verdict["categories"])
            raise Blocked(f"the {where} was blocked by the safety policy: {details}", verdict)
        return verdict
