"""SamplingParams refuses every bad value with a message naming the field, value and range."""

from __future__ import annotations

import math

import pytest

from fabula.errors import InvalidParam
from fabula.sampling import MAX_SEED, SamplingParams

BAD_VALUES = [
    ("max_tokens", 0),
    ("max_tokens", -1),
    ("max_tokens", 32769),
    ("max_tokens", 1.5),
    ("max_tokens", "10"),
    ("max_tokens", True),
    ("temperature", -1),
    ("temperature", math.nan),
    ("temperature", math.inf),
    ("temperature", 1e9),
    ("temperature", "0.7"),
    ("temperature", None),
    ("top_k", -1),
    ("top_k", 2.0),
    ("top_k", 10**7),
    ("top_p", 0),
    ("top_p", -0.1),
    ("top_p", 1.5),
    ("top_p", math.nan),
    ("min_p", -0.1),
    ("min_p", 1.0),
    ("min_p", math.inf),
    ("typical_p", 0),
    ("typical_p", 1.01),
    ("typical_p", -math.inf),
    ("repetition_penalty", 0),
    ("repetition_penalty", -1.0),
    ("repetition_penalty", 10.5),
    ("repetition_penalty", math.nan),
    ("presence_penalty", -2.01),
    ("presence_penalty", 2.01),
    ("presence_penalty", math.nan),
    ("frequency_penalty", -3),
    ("frequency_penalty", 3),
    ("frequency_penalty", math.inf),
    ("stop", "END"),
    ("stop", [""]),
    ("stop", ["x" * 201]),
    ("stop", ["a"] * 17),
    ("stop", [3]),
    ("seed", -1),
    ("seed", MAX_SEED + 1),
    ("seed", 1.0),
    ("seed", "7"),
    ("n", 0),
    ("n", 17),
    ("n", 2.0),
]


@pytest.mark.parametrize(("field", "value"), BAD_VALUES)
def test_bad_value_is_refused_by_name(field: str, value: object) -> None:
    with pytest.raises(InvalidParam) as info:
        SamplingParams(**{field: value})  # type: ignore[arg-type]
    assert info.value.name == field
    assert field in str(info.value)


GOOD_BOUNDARIES = [
    ("max_tokens", 1),
    ("max_tokens", 32768),
    ("temperature", 0),
    ("temperature", 10.0),
    ("top_k", 0),
    ("top_p", 1.0),
    ("top_p", 1e-6),
    ("min_p", 0.0),
    ("min_p", 0.999),
    ("typical_p", 1.0),
    ("repetition_penalty", 1e-3),
    ("repetition_penalty", 10.0),
    ("presence_penalty", -2.0),
    ("presence_penalty", 2.0),
    ("frequency_penalty", -2.0),
    ("seed", 0),
    ("seed", MAX_SEED),
    ("n", 1),
    ("n", 16),
    ("stop", ["\n\n", "THE END"]),
]


@pytest.mark.parametrize(("field", "value"), GOOD_BOUNDARIES)
def test_boundary_values_are_accepted(field: str, value: object) -> None:
    params = SamplingParams(**{field: value})  # type: ignore[arg-type]
    expected = tuple(value) if isinstance(value, list) else value
    assert getattr(params, field) == expected


def test_message_names_value_and_range() -> None:
    with pytest.raises(InvalidParam, match=r"top_p=1\.5 is not allowed: must be a number in \(0\.0, 1\.0\]"):
        SamplingParams(top_p=1.5)
    with pytest.raises(InvalidParam, match="NaN and infinity are refused"):
        SamplingParams(temperature=math.nan)


def test_from_mapping_parses_strings_strictly() -> None:
    params = SamplingParams.from_mapping({"temperature": "0.5", "max_tokens": "12", "seed": "3", "stop": "a|b"})
    assert (params.temperature, params.max_tokens, params.seed, params.stop) == (0.5, 12, 3, ("a", "b"))
    with pytest.raises(InvalidParam, match="temperature='hot'"):
        SamplingParams.from_mapping({"temperature": "hot"})
    with pytest.raises(InvalidParam, match="max_tokens='1.5'.*whole number"):
        SamplingParams.from_mapping({"max_tokens": "1.5"})
    with pytest.raises(InvalidParam, match="unknown sampling parameter"):
        SamplingParams.from_mapping({"temprature": 0.5})


def test_with_revalidates_and_greedy_flag() -> None:
    params = SamplingParams()
    assert not params.greedy and params.with_(temperature=0).greedy
    with pytest.raises(InvalidParam):
        params.with_(n=99)
    assert params.to_dict()["stop"] == []
