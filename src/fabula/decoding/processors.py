"""Small logits processors, each validated on construction and returning a new tensor.

Every processor is called as `processor(input_ids, scores)` with input_ids [batch, seq] (the
tokens so far, prompt included) and scores [batch, vocab] (float logits); this is also the
Transformers LogitsProcessor calling convention, so they plug into `generate` unchanged.
Masked-out tokens are set to -inf, never removed, so vocabulary indices stay stable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import torch

from fabula.errors import InvalidParam

if TYPE_CHECKING:
    from fabula.sampling import SamplingParams

NEG_INF = float("-inf")


class LogitsProcessor(Protocol):
    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor: ...


def _beyond_mass(sorted_probs: torch.Tensor, order: torch.Tensor, p: float, min_keep: int) -> torch.Tensor:
    """Mask (in vocabulary order) of the tokens after the first ones, taken in `order`, whose
    probability reaches p: a token is dropped when the mass *before* it already reaches p."""
    before = sorted_probs.cumsum(-1) - sorted_probs  # [B, V]
    drop = before >= p
    drop[:, :min_keep] = False
    return drop.scatter(1, order, drop)  # [B, V], back to vocabulary order


class RepetitionPenalty:
    """CTRL-style penalty (Keskar et al. 2019): divide positive logits of seen tokens, multiply
    negative ones, so a penalty above 1 always makes a repeat less likely."""

    def __init__(self, penalty: float, window: int = 0) -> None:
        if not penalty > 0:
            raise InvalidParam("repetition_penalty", penalty, "must be > 0")
        if window < 0:
            raise InvalidParam("repetition_window", window, "must be >= 0 (0 = whole context)")
        self.penalty = penalty
        self.window = window

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        ids = input_ids[:, -self.window :] if self.window else input_ids  # [B, W]
        seen = torch.gather(scores, 1, ids)  # [B, W]
        seen = torch.where(seen > 0, seen / self.penalty, seen * self.penalty)
        return scores.scatter(1, ids, seen)  # [B, V]


class PresenceFrequencyPenalty:
    """OpenAI-style additive penalties: presence once per seen token, frequency per occurrence.
    Only generated tokens count (the prompt is excluded), as in the OpenAI API."""

    def __init__(self, presence: float, frequency: float, prompt_length: int) -> None:
        for name, value in (("presence_penalty", presence), ("frequency_penalty", frequency)):
            if not -2.0 <= value <= 2.0:
                raise InvalidParam(name, value, "must be in [-2, 2]")
        self.presence = presence
        self.frequency = frequency
        self.prompt_length = prompt_length

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        generated = input_ids[:, self.prompt_length :]  # [B, G]
        if generated.shape[1] == 0:
            return scores
        counts = torch.zeros_like(scores).scatter_add(
            1, generated, torch.ones_like(generated, dtype=scores.dtype)
        )  # [B, V]
        return scores - self.frequency * counts - self.presence * (counts > 0).to(scores.dtype)


class TopK:
    """Keep the k highest logits (Fan et al. 2018)."""

    def __init__(self, k: int) -> None:
        if k < 1:
            raise InvalidParam("top_k", k, "must be >= 1 here (0 means off and adds no processor)")
        self.k = k

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        k = min(self.k, scores.shape[-1])
        kth = torch.topk(scores, k, dim=-1).values[:, -1:]  # [B, 1]
        return scores.masked_fill(scores < kth, NEG_INF)


class TopP:
    """Nucleus sampling (Holtzman et al. 2020): the smallest set whose probability reaches p."""

    def __init__(self, p: float, min_keep: int = 1) -> None:
        if not 0.0 < p <= 1.0:
            raise InvalidParam("top_p", p, "must be in (0, 1]")
        self.p = p
        self.min_keep = min_keep

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        sorted_scores, order = torch.sort(scores, descending=True, dim=-1)  # [B, V]
        mask = _beyond_mass(sorted_scores.softmax(-1), order, self.p, self.min_keep)
        return scores.masked_fill(mask, NEG_INF)


class MinP:
    """Keep tokens whose probability is at least p times the top token's (Nguyen et al. 2024)."""

    def __init__(self, p: float) -> None:
        if not 0.0 < p < 1.0:
            raise InvalidParam("min_p", p, "must be in (0, 1) here (0 means off)")
        self.p = p

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        probs = scores.softmax(-1)  # [B, V]
        threshold = probs.max(-1, keepdim=True).values * self.p  # [B, 1]
        return scores.masked_fill(probs < threshold, NEG_INF)


class TypicalP:
    """Locally typical sampling (Meister et al. 2023): keep tokens whose surprisal is closest to
    the distribution's entropy until their mass reaches p."""

    def __init__(self, p: float, min_keep: int = 1) -> None:
        if not 0.0 < p <= 1.0:
            raise InvalidParam("typical_p", p, "must be in (0, 1]")
        self.p = p
        self.min_keep = min_keep

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        log_probs = scores.log_softmax(-1)  # [B, V]
        probs = log_probs.exp()
        entropy = -(probs * log_probs).nan_to_num().sum(-1, keepdim=True)  # [B, 1]
        distance = (-log_probs - entropy).abs()  # [B, V]
        order = torch.sort(distance, dim=-1).indices  # most typical first
        mask = _beyond_mass(probs.gather(1, order), order, self.p, self.min_keep)
        return scores.masked_fill(mask, NEG_INF)


class Temperature:
    def __init__(self, temperature: float) -> None:
        if not temperature > 0:
            raise InvalidParam("temperature", temperature, "must be > 0 here (0 means greedy)")
        self.temperature = temperature

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        return scores / self.temperature


def build_processors(params: SamplingParams, prompt_length: int) -> list[LogitsProcessor]:
    """The processors for `params`, in the documented order; neutral settings add nothing."""
    from fabula.decoding.anti_repetition import DRY, XTC, Epsilon, NoRepeatNGram

    chain: list[LogitsProcessor] = []
    if params.no_repeat_ngram:
        chain.append(NoRepeatNGram(params.no_repeat_ngram))
    if params.repetition_penalty != 1.0:
        chain.append(RepetitionPenalty(params.repetition_penalty, window=64))
    if params.presence_penalty or params.frequency_penalty:
        chain.append(PresenceFrequencyPenalty(params.presence_penalty, params.frequency_penalty, prompt_length))
    if params.dry_multiplier:
        chain.append(DRY(params.dry_multiplier, params.dry_base, params.dry_allowed_length))
    if params.greedy:
        return chain
    if params.top_k:
        chain.append(TopK(params.top_k))
    if params.typical_p < 1.0:
        chain.append(TypicalP(params.typical_p))
    if params.top_p < 1.0:
        chain.append(TopP(params.top_p))
    if params.min_p > 0.0:
        chain.append(MinP(params.min_p))
    if params.epsilon:
        chain.append(Epsilon(params.epsilon))
    if params.xtc_probability:
        chain.append(XTC(params.xtc_probability, params.xtc_threshold, params.seed))
    chain.append(Temperature(params.temperature))
    return chain


def run_processors(chain: Sequence[LogitsProcessor], input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    for processor in chain:
        scores = processor(input_ids, scores)
    return scores
