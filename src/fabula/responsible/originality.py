"""Originality report: how much of a text can be found verbatim in the reference corpora.

In the spirit of the Creativity Index (Lu et al. 2024): for each n from 5 to 13 we ask which
n-grams of the text occur anywhere in the references. Two views come out of the same longest-match
table:

- `novel_ngram_share[n]`: the share of the text's n-grams found nowhere (the issue's measure);
- `uniqueness[n]`: the share of the text's words not covered by any matched n-gram of length at
  least n (Lu et al.'s L-uniqueness). `score` is its mean over n = 5..13, so it lies in 0..1:
  1 is a text none of whose 5-grams occur in the references. (Lu et al. sum over 5..12 and add
  near-verbatim matches by embedding; fabula counts exact matches after normalisation.)

Flagged spans follow two rules: a verbatim match of at least `min_verbatim` tokens (50), or a
region of the text covered by matched `ngram`-grams (13; gaps of up to `gap` tokens bridged, which
is what a light edit leaves) of at least `min_overlap_tokens` tokens (13: any matched 13-gram).
On the benchmark (benchmarks/originality.py) fresh generations never matched more than 6 tokens,
while 16 would have missed lightly edited 28-character poems; raise it for a looser check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fabula.errors import InvalidParam
from fabula.responsible.reference import Shard, Token, open_shards, tokenize
from fabula.responsible.suffix_array import Match

N_RANGE = range(5, 14)


@dataclass(frozen=True)
class OriginalityPolicy:
    ngram: int = 13
    min_verbatim: int = 50
    min_overlap_tokens: int = 13
    gap: int = 3

    def __post_init__(self) -> None:
        if not 5 <= self.ngram <= 50:
            raise InvalidParam("ngram", self.ngram, "must be from 5 to 50")
        if self.min_verbatim < self.ngram:
            raise InvalidParam("min_verbatim", self.min_verbatim, f"must be at least ngram={self.ngram}")
        if not self.ngram <= self.min_overlap_tokens <= self.min_verbatim:
            raise InvalidParam("min_overlap_tokens", self.min_overlap_tokens, "must lie between ngram and min_verbatim")
        if not 0 <= self.gap <= 20:
            raise InvalidParam("gap", self.gap, "must be from 0 to 20")


def best_matches(tokens: list[Token], shards: list[Shard]) -> tuple[np.ndarray, list[tuple[int, Match]]]:
    """Per position, the longest match over all shards, and which shard gave it."""
    lengths = np.zeros(len(tokens), dtype=np.int64)
    where: list[tuple[int, Match]] = [(-1, Match(0, -1))] * len(tokens)
    for s, shard in enumerate(shards):
        for i, match in enumerate(shard.matches(tokens)):
            if match.length > lengths[i]:
                lengths[i] = match.length
                where[i] = (s, match)
    return lengths, where


def covered(lengths: np.ndarray, n: int) -> np.ndarray:
    """Which words lie inside some matched n-gram (a match of length >= n starting at or before)."""
    reach = np.where(lengths >= n, np.arange(len(lengths)) + lengths, 0)
    furthest = np.maximum.accumulate(reach) if len(reach) else reach
    return np.arange(len(lengths)) < furthest


def _regions(mask: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """Runs of True in `mask`, merged across gaps of at most `gap` False values."""
    runs: list[list[int]] = []
    for i in np.flatnonzero(mask):
        if runs and i - runs[-1][1] <= gap:
            runs[-1][1] = int(i) + 1
        else:
            runs.append([int(i), int(i) + 1])
    return [(a, b) for a, b in runs]


def report(
    text: str,
    shards: list[Shard],
    policy: OriginalityPolicy | None = None,
    missing: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """The originality report of `text` against the given shards (see the module docstring)."""
    policy = policy or OriginalityPolicy()
    tokens = tokenize(text)
    lengths, where = best_matches(tokens, shards)
    n_tokens = len(tokens)
    novel = {}
    uniqueness = {}
    for n in N_RANGE:
        grams = n_tokens - n + 1
        novel[str(n)] = round(1 - float(np.sum(lengths[:grams] >= n)) / grams, 4) if grams > 0 else 1.0
        uniqueness[str(n)] = round(1 - float(covered(lengths, n).mean()), 4) if n_tokens else 1.0
    score = round(float(np.mean(list(uniqueness.values()))), 4)

    def span(start: int, length: int) -> dict[str, Any]:
        s, match = where[start]
        end = start + length
        found = shards[s].locate(match.offset, length) if s >= 0 else {}
        return {
            "start_token": start,
            "tokens": length,
            "char_start": tokens[start].start if length else 0,
            "char_end": tokens[end - 1].end if length else 0,
            "text": text[tokens[start].start : tokens[end - 1].end] if length else "",
            **found,
        }

    longest_at = int(np.argmax(lengths)) if n_tokens else 0
    longest = int(lengths[longest_at]) if n_tokens else 0
    flagged = []
    matched = covered(lengths, policy.ngram)
    for a, b in _regions(matched, policy.gap):
        inside = int(matched[a:b].sum())
        top = a + int(np.argmax(lengths[a:b]))
        reasons = []
        if int(lengths[top]) >= policy.min_verbatim:
            reasons.append(f"{int(lengths[top])} tokens verbatim (>= {policy.min_verbatim})")
        if inside >= policy.min_overlap_tokens:
            reasons.append(f"{inside} tokens in matched {policy.ngram}-grams (>= {policy.min_overlap_tokens})")
        if reasons:
            region = span(a, b - a) | {"covered_tokens": inside, "why": reasons}
            region.update({k: v for k, v in span(top, int(lengths[top])).items() if k in ("source", "document")})
            flagged.append(region)
    return {
        "flagged": bool(flagged),
        "longest_span_tokens": longest,
        "longest_span": span(longest_at, longest) if longest else None,
        "novel_ngram_share": novel,
        "uniqueness": uniqueness,
        "score": score,
        "tokens": n_tokens,
        "flagged_spans": flagged,
        "policy": asdict(policy),
        "sources": [
            {"name": sh.name, "kind": sh.meta["kind"], "documents": sh.meta["documents"], "tokens": sh.meta["tokens"]}
            for sh in shards
        ],
        "missing_sources": missing or [],
    }


def check_text(
    text: str, home: Path, policy: OriginalityPolicy | None = None, on_build: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Report on `text` against every reference source under `home` (building stale shards)."""
    shards, missing = open_shards(home, on_build)
    return report(text, shards, policy, missing)
