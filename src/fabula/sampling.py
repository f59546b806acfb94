"""SamplingParams: the one validated description of how to sample, shared by every engine.

Validation happens on construction so a bad value never reaches an engine: the error names the
parameter, the value given and the allowed range. Numbers given as strings (from the command line,
a settings file or JSON) are refused rather than guessed at, except through `from_mapping`, which
parses them explicitly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from fabula.errors import InvalidParam

MAX_SEED = 2**32 - 2  # llama.cpp reserves 2**32 - 1 for "random"
MAX_STOP_STRINGS = 16
MAX_STOP_LENGTH = 200


def _check_int(name: str, value: object, low: int, high: int, hint: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParam(name, value, f"must be a whole number from {low} to {high}", hint)
    if not low <= value <= high:
        raise InvalidParam(name, value, f"must be from {low} to {high}", hint)


def _check_float(
    name: str,
    value: object,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
    hint: str = "",
) -> None:
    left = "(" if low_open else "["
    right = ")" if high_open else "]"
    allowed = f"must be a number in {left}{low}, {high}{right}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidParam(name, value, allowed, hint)
    number = float(value)
    if math.isnan(number) or math.isinf(number):
        raise InvalidParam(name, value, allowed + "; NaN and infinity are refused", hint)
    too_low = number <= low if low_open else number < low
    too_high = number >= high if high_open else number > high
    if too_low or too_high:
        raise InvalidParam(name, value, allowed, hint)


@dataclass(frozen=True)
class SamplingParams:
    """How to sample. Defaults suit short creative text on a small instruct model.

    Neutral values switch a control off: top_k=0, top_p=1, min_p=0, typical_p=1,
    repetition_penalty=1, presence_penalty=0, frequency_penalty=0, epsilon=0, no_repeat_ngram=0,
    dry_multiplier=0, xtc_probability=0. temperature=0 means greedy.
    `seed=None` lets the pipeline pick one and record it, so every output can be reproduced.
    """

    max_tokens: int = 256
    temperature: float = 0.8
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    typical_p: float = 1.0
    repetition_penalty: float = 1.1
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    stop: tuple[str, ...] = field(default_factory=tuple)
    seed: int | None = None
    n: int = 1
    epsilon: float = 0.0
    no_repeat_ngram: int = 0
    dry_multiplier: float = 0.0
    dry_base: float = 1.75
    dry_allowed_length: int = 2
    xtc_probability: float = 0.0
    xtc_threshold: float = 0.1
    ban_phrases: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        _check_int("max_tokens", self.max_tokens, 1, 32768)
        _check_float("temperature", self.temperature, 0.0, 10.0, hint="0 means greedy")
        _check_int("top_k", self.top_k, 0, 1_000_000, hint="0 switches top-k off")
        _check_float("top_p", self.top_p, 0.0, 1.0, low_open=True, hint="1 switches top-p off")
        _check_float("min_p", self.min_p, 0.0, 1.0, high_open=True, hint="0 switches min-p off")
        _check_float("typical_p", self.typical_p, 0.0, 1.0, low_open=True, hint="1 switches it off")
        _check_float("repetition_penalty", self.repetition_penalty, 0.0, 10.0, low_open=True, hint="1 is off")
        _check_float("presence_penalty", self.presence_penalty, -2.0, 2.0, hint="0 is off")
        _check_float("frequency_penalty", self.frequency_penalty, -2.0, 2.0, hint="0 is off")
        if isinstance(self.stop, str) or not isinstance(self.stop, (tuple, list)):
            raise InvalidParam("stop", self.stop, "must be a list of strings")
        if len(self.stop) > MAX_STOP_STRINGS:
            raise InvalidParam("stop", self.stop, f"at most {MAX_STOP_STRINGS} stop strings")
        for item in self.stop:
            if not isinstance(item, str) or not item or len(item) > MAX_STOP_LENGTH:
                raise InvalidParam("stop", item, f"each stop string must be 1 to {MAX_STOP_LENGTH} characters")
        object.__setattr__(self, "stop", tuple(self.stop))
        if self.seed is not None:
            _check_int("seed", self.seed, 0, MAX_SEED)
        _check_int("n", self.n, 1, 16, hint="the number of candidates to generate")
        _check_float("epsilon", self.epsilon, 0.0, 0.5, high_open=True, hint="0 switches it off")
        _check_int("no_repeat_ngram", self.no_repeat_ngram, 0, 20, hint="0 switches it off")
        _check_float("dry_multiplier", self.dry_multiplier, 0.0, 5.0, hint="0 switches DRY off")
        _check_float("dry_base", self.dry_base, 1.0, 4.0, low_open=True)
        _check_int("dry_allowed_length", self.dry_allowed_length, 1, 20)
        _check_float("xtc_probability", self.xtc_probability, 0.0, 1.0, hint="0 switches XTC off")
        _check_float("xtc_threshold", self.xtc_threshold, 0.0, 0.5, hint="above 0.5 XTC could never act")
        if isinstance(self.ban_phrases, str) or not isinstance(self.ban_phrases, (tuple, list)):
            raise InvalidParam("ban_phrases", self.ban_phrases, "must be a list of phrases")
        if len(self.ban_phrases) > 64:
            raise InvalidParam("ban_phrases", len(self.ban_phrases), "at most 64 banned phrases")
        for phrase in self.ban_phrases:
            if not isinstance(phrase, str) or not phrase.strip() or len(phrase) > 100:
                raise InvalidParam("ban_phrases", phrase, "each banned phrase must be 1 to 100 characters")
        object.__setattr__(self, "ban_phrases", tuple(self.ban_phrases))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def with_(self, **changes: Any) -> SamplingParams:
        """A copy with some fields changed, validated again."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stop"] = list(self.stop)
        data["ban_phrases"] = list(self.ban_phrases)
        return data

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], base: SamplingParams | None = None) -> SamplingParams:
        """Build from loosely typed input (CLI `--set`, JSON, settings), parsing strings strictly."""
        known = {f.name: f for f in fields(cls)}
        parsed: dict[str, Any] = {}
        for key, raw in values.items():
            if key not in known:
                raise InvalidParam(key, raw, f"unknown sampling parameter; known: {', '.join(known)}")
            parsed[key] = _parse_value(key, raw)
        return replace(base or cls(), **parsed)


_INT_FIELDS = {"max_tokens", "top_k", "seed", "n", "no_repeat_ngram", "dry_allowed_length"}
# Controls beyond the common set, with the value that switches each off: engines that lack one
# must refuse a non-neutral value rather than ignore it.
EXTENDED_NEUTRAL = {"epsilon": 0.0, "no_repeat_ngram": 0, "dry_multiplier": 0.0, "xtc_probability": 0.0}


def unsupported(params: SamplingParams, supported: set[str]) -> list[str]:
    """Names of the extended controls `params` switches on that are not in `supported`."""
    return [name for name, off in EXTENDED_NEUTRAL.items() if getattr(params, name) != off and name not in supported]


def _parse_value(key: str, raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    if key in ("stop", "ban_phrases"):
        return tuple(part for part in text.split("|") if part)
    if key == "seed" and text.lower() in {"", "none", "random"}:
        return None
    try:
        return int(text) if key in _INT_FIELDS else float(text)
    except ValueError:
        kind = "a whole number" if key in _INT_FIELDS else "a number"
        raise InvalidParam(key, raw, f"must be {kind}") from None
