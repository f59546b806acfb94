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

import annotated_types
from pydantic import BaseModel, ConfigDict, Field

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


def _hint(text: str) -> dict[str, Any]:
    """What a refusal adds after the allowed range, e.g. "0 switches top-k off"."""
    return {"hint": text}


class SamplingControls(BaseModel):
    """The one declaration of every sampling control: type, range, default, meaning.

    The CLI's options (`fabula write --temperature ...`), the HTTP API's request bodies and the
    published OpenAPI schema are all derived from these fields, and `SamplingParams` checks its
    values against the same bounds, so no surface can drift from another. A `hint` (in the
    field's extra) is added to the error when a value is refused.
    """

    model_config = ConfigDict(extra="forbid")

    max_tokens: int = Field(default=256, ge=1, le=32768, description="The most tokens to generate per candidate.")
    temperature: float = Field(
        default=0.8, ge=0.0, le=10.0, description="Randomness: 0 is greedy.", json_schema_extra=_hint("0 means greedy")
    )
    top_k: int = Field(
        default=40,
        ge=0,
        le=1_000_000,
        description="Sample among the k likeliest tokens (0 is off).",
        json_schema_extra=_hint("0 switches top-k off"),
    )
    top_p: float = Field(
        default=0.95,
        gt=0.0,
        le=1.0,
        description="Nucleus sampling: the smallest set of tokens holding this much probability (1 is off).",
        json_schema_extra=_hint("1 switches top-p off"),
    )
    min_p: float = Field(
        default=0.05,
        ge=0.0,
        lt=1.0,
        description="Drop tokens under this share of the likeliest one's probability (0 is off).",
        json_schema_extra=_hint("0 switches min-p off"),
    )
    typical_p: float = Field(
        default=1.0,
        gt=0.0,
        le=1.0,
        description="Locally typical sampling (1 is off).",
        json_schema_extra=_hint("1 switches it off"),
    )
    repetition_penalty: float = Field(
        default=1.1,
        gt=0.0,
        le=10.0,
        description="Divide repeated tokens' scores by this (1 is off).",
        json_schema_extra=_hint("1 is off"),
    )
    presence_penalty: float = Field(
        default=0.0,
        ge=-2.0,
        le=2.0,
        description="Penalty for any token already used (0 is off).",
        json_schema_extra=_hint("0 is off"),
    )
    frequency_penalty: float = Field(
        default=0.0,
        ge=-2.0,
        le=2.0,
        description="Penalty growing with a token's count (0 is off).",
        json_schema_extra=_hint("0 is off"),
    )
    stop: tuple[str, ...] = Field(default=(), max_length=MAX_STOP_STRINGS, description="Strings that end the text.")
    seed: int | None = Field(
        default=None, ge=0, le=MAX_SEED, description="Seed; candidate i uses seed+i. Random if omitted (and recorded)."
    )
    n: int = Field(
        default=1,
        ge=1,
        le=16,
        description="Candidates to generate; the best is chosen.",
        json_schema_extra=_hint("the number of candidates to generate"),
    )
    epsilon: float = Field(
        default=0.0,
        ge=0.0,
        lt=0.5,
        description="Epsilon sampling cut-off (0 is off).",
        json_schema_extra=_hint("0 switches it off"),
    )
    no_repeat_ngram: int = Field(
        default=0,
        ge=0,
        le=20,
        description="Ban repeating any n-gram of this size (0 is off).",
        json_schema_extra=_hint("0 switches it off"),
    )
    dry_multiplier: float = Field(
        default=0.0,
        ge=0.0,
        le=5.0,
        description="DRY repetition penalty strength (0 is off).",
        json_schema_extra=_hint("0 switches DRY off"),
    )
    dry_base: float = Field(default=1.75, gt=1.0, le=4.0, description="DRY: how fast the penalty grows with length.")
    dry_allowed_length: int = Field(default=2, ge=1, le=20, description="DRY: repeats up to this long are free.")
    xtc_probability: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="XTC: chance per step to exclude the top choices (0 is off).",
        json_schema_extra=_hint("0 switches XTC off"),
    )
    xtc_threshold: float = Field(
        default=0.1,
        ge=0.0,
        le=0.5,
        description="XTC: tokens above this probability are the top choices.",
        json_schema_extra=_hint("above 0.5 XTC could never act"),
    )
    ban_phrases: tuple[str, ...] = Field(
        default=(), max_length=64, description="Phrases undone by backtracking when they appear."
    )


@dataclass(frozen=True)
class Bounds:
    """A numeric control's range as declared on `SamplingControls`."""

    kind: type
    low: float
    high: float
    low_open: bool
    high_open: bool
    hint: str


def _bounds() -> dict[str, Bounds]:
    out = {}
    for name, info in SamplingControls.model_fields.items():
        kind = int if info.annotation in (int, int | None) else float if info.annotation is float else None
        if kind is None:
            continue
        low: Any = None
        high: Any = None
        low_open = high_open = False
        for rule in info.metadata:
            if isinstance(rule, annotated_types.Ge):
                low = rule.ge
            elif isinstance(rule, annotated_types.Gt):
                low, low_open = rule.gt, True
            elif isinstance(rule, annotated_types.Le):
                high = rule.le
            elif isinstance(rule, annotated_types.Lt):
                high, high_open = rule.lt, True
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        out[name] = Bounds(kind, low, high, low_open, high_open, str(extra.get("hint", "")))  # type: ignore[arg-type]
    return out


BOUNDS = _bounds()


@dataclass(frozen=True)
class SamplingParams:
    """How to sample: the engine-facing value, checked on construction against `SamplingControls`.

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
        for name, rule in BOUNDS.items():
            value = getattr(self, name)
            if name == "seed" and value is None:
                continue
            if rule.kind is int:
                _check_int(name, value, int(rule.low), int(rule.high), rule.hint)
            else:
                _check_float(
                    name, value, rule.low, rule.high, low_open=rule.low_open, high_open=rule.high_open, hint=rule.hint
                )
        if isinstance(self.stop, str) or not isinstance(self.stop, (tuple, list)):
            raise InvalidParam("stop", self.stop, "must be a list of strings")
        if len(self.stop) > MAX_STOP_STRINGS:
            raise InvalidParam("stop", self.stop, f"at most {MAX_STOP_STRINGS} stop strings")
        for item in self.stop:
            if not isinstance(item, str) or not item or len(item) > MAX_STOP_LENGTH:
                raise InvalidParam("stop", item, f"each stop string must be 1 to {MAX_STOP_LENGTH} characters")
        object.__setattr__(self, "stop", tuple(self.stop))
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


_INT_FIELDS = {name for name, rule in BOUNDS.items() if rule.kind is int}
# Controls beyond the common set, with the value that switches each off: engines that lack one
# must refuse a non-neutral value rather than ignore it.
EXTENDED_NEUTRAL = {"epsilon": 0.0, "no_repeat_ngram": 0, "dry_multiplier": 0.0, "xtc_probability": 0.0}


def unsupported(params: SamplingParams, supported: set[str]) -> list[str]:
    """Names of the extended controls `params` switches on that are not in `supported`."""
    return [name for name, off in EXTENDED_NEUTRAL.items() if getattr(params, name) != off and name not in supported]


def refuse_unsupported(params: SamplingParams, supported: set[str], who: str, hint: str = "leave it off") -> None:
    """Raise InvalidParam for the first extended control that `who` cannot apply: a control is
    refused, never silently ignored."""
    missing = unsupported(params, supported)
    if missing:
        raise InvalidParam(missing[0], getattr(params, missing[0]), f"{who} does not apply it", hint=hint)


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
