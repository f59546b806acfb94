"""Suffix-array construction: libdivsufsort (pydivsufsort, what fabula uses) against the prefix
doubling in numpy fabula used before, on the same token arrays, in one run. Both must give the
same array. Prints a Markdown table.

    python benchmarks/suffix_array.py
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from fabula.responsible.suffix_array import build_suffix_array


def prefix_doubling(tokens: np.ndarray) -> np.ndarray:
    """Manber and Myers in numpy: the construction fabula had before (kept here as the baseline)."""
    n = len(tokens)
    rank = np.unique(tokens, return_inverse=True)[1].astype(np.int64).reshape(-1)
    shift = 1
    while True:
        second = np.zeros(n, dtype=np.int64)
        second[: n - shift] = rank[shift:] + 1
        key = rank * (n + 2) + second
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        new_rank = np.empty(n, dtype=np.int64)
        new_rank[order] = np.concatenate(([0], np.cumsum(sorted_key[1:] != sorted_key[:-1])))
        rank = new_rank
        if rank[order[-1]] == n - 1 or shift >= n:
            return order.astype(np.int32)
        shift *= 2


def main() -> None:
    rng = np.random.default_rng(0)
    print("| tokens | vocabulary | prefix doubling (s) | libdivsufsort (s) | ratio | same array |")
    print("|---|---|---|---|---|---|")
    for n, vocab in [(200_000, 5_000), (2_000_000, 30_000), (8_000_000, 30_000)]:
        tokens = rng.zipf(1.3, n).clip(max=vocab).astype(np.int32)
        tokens[rng.integers(0, n, n // 200)] = -1  # document separators
        old, new = [], []
        for _ in range(3):  # interleaved, so load on the machine falls on both alike
            start = time.perf_counter()
            a = prefix_doubling(tokens)
            old.append(time.perf_counter() - start)
            start = time.perf_counter()
            b = build_suffix_array(tokens)
            new.append(time.perf_counter() - start)
        same = bool(np.array_equal(a, b))
        o, m = statistics.median(old), statistics.median(new)
        print(f"| {n:,} | {vocab:,} | {o:.3f} | {m:.3f} | {o / m:.1f}x | {same} |")


if __name__ == "__main__":
    main()
