"""Each logits processor on hand-made tensors: no model needed."""

from __future__ import annotations

import math

import pytest
import torch

from fabula.decoding.processors import (
    MinP,
    PresenceFrequencyPenalty,
    RepetitionPenalty,
    Temperature,
    TopK,
    TopP,
    TypicalP,
    build_processors,
)
from fabula.errors import InvalidParam
from fabula.sampling import SamplingParams

IDS = torch.tensor([[0, 1]])


def kept(scores: torch.Tensor) -> list[int]:
    return [i for i, v in enumerate(scores[0].tolist()) if v != -math.inf]


def test_top_k_keeps_k_best() -> None:
    scores = torch.tensor([[1.0, 4.0, 3.0, 2.0]])
    assert kept(TopK(2)(IDS, scores)) == [1, 2]


def test_top_p_keeps_smallest_nucleus() -> None:
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    scores = probs.log()
    assert kept(TopP(0.5)(IDS, scores)) == [0]
    assert kept(TopP(0.8)(IDS, scores)) == [0, 1]
    assert kept(TopP(0.81)(IDS, scores)) == [0, 1, 2]
    assert kept(TopP(1.0)(IDS, scores)) == [0, 1, 2, 3]


def test_min_p_scales_with_top_token() -> None:
    scores = torch.tensor([[0.6, 0.25, 0.1, 0.05]]).log()
    assert kept(MinP(0.2)(IDS, scores)) == [0, 1]  # threshold 0.12


def test_typical_keeps_tokens_near_entropy() -> None:
    scores = torch.tensor([[0.4, 0.3, 0.2, 0.1]]).log()
    out = kept(TypicalP(0.25)(IDS, scores))
    assert out == [1]  # the most typical token (surprisal nearest the entropy)


def test_repetition_penalty_lowers_seen_tokens_either_sign() -> None:
    scores = torch.tensor([[2.0, -2.0, 2.0]])
    out = RepetitionPenalty(2.0)(IDS, scores)
    assert out.tolist() == [[1.0, -4.0, 2.0]]
    assert scores.tolist() == [[2.0, -2.0, 2.0]]  # input not modified


def test_presence_and_frequency_count_only_generated_tokens() -> None:
    ids = torch.tensor([[3, 0, 0, 1]])  # prompt [3], generated [0, 0, 1]
    out = PresenceFrequencyPenalty(presence=0.5, frequency=0.25, prompt_length=1)(ids, torch.zeros(1, 4))
    assert out.tolist() == [[-1.0, -0.75, 0.0, 0.0]]


def test_temperature_divides() -> None:
    assert Temperature(0.5)(IDS, torch.tensor([[1.0, 2.0]])).tolist() == [[2.0, 4.0]]


@pytest.mark.parametrize(
    ("factory", "name"),
    [
        (lambda: TopK(0), "top_k"),
        (lambda: TopP(0), "top_p"),
        (lambda: MinP(1.0), "min_p"),
        (lambda: TypicalP(1.5), "typical_p"),
        (lambda: Temperature(0), "temperature"),
        (lambda: RepetitionPenalty(0), "repetition_penalty"),
    ],
)
def test_processors_validate_on_construction(factory: object, name: str) -> None:
    with pytest.raises(InvalidParam, match=name):
        factory()  # type: ignore[operator]


def test_chain_order_and_neutral_settings() -> None:
    chain = build_processors(SamplingParams(top_k=5, top_p=0.9, min_p=0.1, typical_p=0.95), prompt_length=1)
    assert [type(p).__name__ for p in chain] == ["RepetitionPenalty", "TopK", "TypicalP", "TopP", "MinP", "Temperature"]
    neutral = SamplingParams(top_k=0, top_p=1.0, min_p=0.0, typical_p=1.0, repetition_penalty=1.0)
    assert [type(p).__name__ for p in build_processors(neutral, 1)] == ["Temperature"]
    assert build_processors(neutral.with_(temperature=0), 1) == []
