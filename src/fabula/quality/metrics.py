"""Cheap text metrics used to score candidates (the full decoding study builds on these)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

WORD = re.compile(r"\w+(?:['’]\w+)?", re.UNICODE)


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


def distinct_n(tokens: Sequence[str], n: int) -> float:
    """Share of n-grams that are unique (Li et al. 2016); 0 for texts shorter than n."""
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def repetition_rate(tokens: Sequence[str], n: int = 4) -> float:
    """Share of n-grams that repeat an earlier one: high values mean the text loops."""
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    if not grams:
        return 0.0
    counts = Counter(grams)
    repeated = sum(c - 1 for c in counts.values())
    return repeated / len(grams)


def mean_logprob(logprobs: Sequence[float] | None) -> float | None:
    finite = [lp for lp in logprobs or () if math.isfinite(lp)]
    return sum(finite) / len(finite) if finite else None


def perplexity(logprobs: Sequence[float] | None) -> float | None:
    mean = mean_logprob(logprobs)
    return math.exp(-mean) if mean is not None else None
