"""A suffix array over token ids: exact longest matches against a reference corpus.

Why a suffix array and not hashed n-grams: the originality report needs every n from 5 to 13 and
the longest verbatim span, wherever it is. Hashed n-grams would need one table per n (nine tables
of 8-byte hashes per token) and still could not say how long the longest match is; a suffix array
is one int32 per token beside the int32 tokens themselves, answers "the longest prefix of this text
that occurs anywhere in the corpus" with one binary search, and says where. It is what
infini-gram (the engine behind the Creativity Index's search) uses at web scale.

Construction is libdivsufsort's (`pydivsufsort`), a kept C library: the same array as the prefix
doubling in numpy (Manber and Myers) this module had before, 5.6x faster on 2 million tokens
(`benchmarks/suffix_array.py`; the test suite checks it against sorted suffixes). Documents are
joined with a separator (-1) that never occurs in a query, so no match runs from one document into
the next; tokens are shifted up by one for the library, which sorts unsigned integers, and the
separator, the smallest token, stays the smallest.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

import numpy as np

SEPARATOR = -1
# Tokens compared per binary-search step; a match that reaches it is extended token by token.
PROBE = 48


def build_suffix_array(tokens: np.ndarray) -> np.ndarray:
    """The start offsets of all suffixes of `tokens` (int32, >= -1), in sorted order."""
    from pydivsufsort import divsufsort

    n = len(tokens)
    if n == 0:
        return np.zeros(0, dtype=np.int32)
    if n >= 2**31 - 1:
        raise ValueError(f"{n} tokens: an int32 suffix array holds at most 2**31 - 2")
    shifted = (np.asarray(tokens, dtype=np.int64) + 1).astype(np.uint32)  # -1 (the separator) -> 0
    return np.asarray(divsufsort(shifted), dtype=np.int32)


@dataclass(frozen=True)
class Match:
    length: int  # tokens matched from the query position
    offset: int  # where in the corpus tokens the match starts (-1 when length is 0)


class _SortedSuffixes:
    """The suffix array seen as a sorted list of token lists, for `bisect`."""

    def __init__(self, tokens: np.ndarray, sa: np.ndarray, probe: int) -> None:
        self.tokens = tokens
        self.sa = sa
        self.probe = probe

    def __len__(self) -> int:
        return len(self.sa)

    def __getitem__(self, index: int) -> list[int]:
        start = int(self.sa[index])
        return self.tokens[start : start + self.probe].tolist()  # type: ignore[no-any-return]


def _common_prefix(query: np.ndarray, tokens: np.ndarray, start: int) -> int:
    """How many tokens of `query` equal the corpus from `start` on."""
    length = 0
    while length < len(query):
        window = min(PROBE * 4, len(query) - length)
        ref = tokens[start + length : start + length + window]
        part = query[length : length + len(ref)]
        unequal = np.flatnonzero(part != ref)
        if len(unequal):
            return length + int(unequal[0])
        length += len(ref)
        if len(ref) < window:  # the corpus ended
            return length
    return length


def longest_matches(query: np.ndarray, tokens: np.ndarray, sa: np.ndarray) -> list[Match]:
    """For every position i of `query`, the longest prefix of query[i:] found in the corpus.

    The suffix sharing the longest prefix with a string sits beside the string's insertion
    point in the sorted suffixes, so one binary search per position finds it.
    """
    if len(sa) == 0:
        return [Match(0, -1) for _ in range(len(query))]
    short = _SortedSuffixes(tokens, sa, PROBE)
    out: list[Match] = []
    for i in range(len(query)):
        rest = query[i:]
        best = _search(short, rest)
        if best.length >= PROBE:  # several suffixes may share the probe: search on the whole rest
            best = _search(_SortedSuffixes(tokens, sa, len(rest)), rest)
        out.append(best)
    return out


def _search(suffixes: _SortedSuffixes, rest: np.ndarray) -> Match:
    point = bisect_left(suffixes, rest[: suffixes.probe].tolist())
    best = Match(0, -1)
    for j in (point - 1, point):
        if 0 <= j < len(suffixes.sa):
            start = int(suffixes.sa[j])
            length = _common_prefix(rest, suffixes.tokens, start)
            if length > best.length:
                best = Match(length, start)
    return best
