"""Samplers against repetition and predictability beyond the classic set: no-repeat n-gram,
DRY (p-e-w's "Don't Repeat Yourself", as in text-generation-webui and llama.cpp), epsilon
sampling (Hewitt et al. 2022) and XTC ("exclude top choices", as in KoboldCpp and llama.cpp).

Same calling convention as `processors.py`: (input_ids [B, T], scores [B, V]) -> new scores.
"""

from __future__ import annotations

import torch

from fabula.decoding.processors import NEG_INF
from fabula.errors import InvalidParam


class NoRepeatNGram:
    """Ban any token that would complete an n-gram already present in the sequence."""

    def __init__(self, n: int) -> None:
        if n < 1:
            raise InvalidParam("no_repeat_ngram", n, "must be >= 1 here (0 means off)")
        self.n = n

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        out = scores.clone()
        for row, ids in enumerate(input_ids.tolist()):
            if len(ids) < self.n:
                continue
            prefix = tuple(ids[len(ids) - self.n + 1 :]) if self.n > 1 else ()
            banned = {
                ids[i + self.n - 1] for i in range(len(ids) - self.n + 1) if tuple(ids[i : i + self.n - 1]) == prefix
            }
            if banned:
                out[row, list(banned)] = NEG_INF
        return out


class DRY:
    """Penalise the token that would extend a sequence repeating earlier text: if the last L
    tokens already occurred followed by token t, t gets multiplier * base ** (L - allowed_length)
    subtracted from its logit once L reaches allowed_length. Only the last `window` tokens count."""

    def __init__(self, multiplier: float, base: float, allowed_length: int, window: int = 1024) -> None:
        if not multiplier > 0:
            raise InvalidParam("dry_multiplier", multiplier, "must be > 0 here (0 means off)")
        if not base > 1:
            raise InvalidParam("dry_base", base, "must be > 1")
        if allowed_length < 1:
            raise InvalidParam("dry_allowed_length", allowed_length, "must be >= 1")
        self.multiplier, self.base, self.allowed, self.window = multiplier, base, allowed_length, window

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        out = scores.clone()
        for row, ids in enumerate(input_ids[:, -self.window :].tolist()):
            longest: dict[int, int] = {}
            last = len(ids) - 1
            for j in range(last):  # ids[j + 1] followed a copy of the current suffix?
                length = 0
                while length <= j and ids[j - length] == ids[last - length]:
                    length += 1
                if length:
                    token = ids[j + 1]
                    longest[token] = max(longest.get(token, 0), length)
            for token, length in longest.items():
                if length >= self.allowed:
                    out[row, token] -= self.multiplier * self.base ** (length - self.allowed)
        return out


class Epsilon:
    """Drop tokens whose probability is below epsilon (always keeping the most likely one)."""

    def __init__(self, epsilon: float) -> None:
        if not 0.0 < epsilon < 0.5:
            raise InvalidParam("epsilon", epsilon, "must be in (0, 0.5) here (0 means off)")
        self.epsilon = epsilon

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        probs = scores.softmax(-1)  # [B, V]
        drop = probs < self.epsilon
        drop.scatter_(1, probs.argmax(-1, keepdim=True), False)
        return scores.masked_fill(drop, NEG_INF)


class XTC:
    """With probability `probability` per step and row, remove every token at or above
    `threshold` except the least likely of them: the obvious choice gives way to a still-good
    one. Randomness comes from a seeded generator, so runs reproduce."""

    def __init__(self, probability: float, threshold: float, seed: int | None) -> None:
        if not 0.0 < probability <= 1.0:
            raise InvalidParam("xtc_probability", probability, "must be in (0, 1] here (0 means off)")
        if not 0.0 <= threshold <= 0.5:
            raise InvalidParam("xtc_threshold", threshold, "must be in [0, 0.5]")
        self.probability, self.threshold = probability, threshold
        self.generator = torch.Generator().manual_seed(seed if seed is not None else 0)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        probs = scores.softmax(-1)  # [B, V]
        out = scores.clone()
        for row in range(scores.shape[0]):
            if torch.rand((), generator=self.generator).item() >= self.probability:
                continue
            above = (probs[row] >= self.threshold).nonzero().flatten()
            if above.numel() < 2:
                continue
            keep = above[probs[row, above].argmin()]
            out[row, above[above != keep]] = NEG_INF
        return out
