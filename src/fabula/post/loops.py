"""Loop detection, after Dramatron: a text stuck repeating itself is sampled again, a bounded number of times.

Two signs of a loop, either enough:
- the same line (of at least three words, or eight characters in unspaced scripts) three or more times;
- the text ends in a phrase of two or more words repeated three or more times (Holtzman et al.'s
  repetition criterion, the same one `fabula eval decoding` reports).
A refrain is a line repeated on purpose, so forms that repeat lines by design (the song's chorus)
are assembled after this check, from text generated without the repeats.
"""

from __future__ import annotations

from collections import Counter

from fabula.post.rank import units
from fabula.quality.metrics import ends_in_repetition

MIN_LINE_WORDS = 3
MIN_LINE_CHARS = 8
MAX_LINE_REPEATS = 2  # a third copy of a line is a loop
MAX_RESAMPLES = 2  # per work: each looping candidate is sampled again at most this many times in all


def _substantial(line: str) -> bool:
    """Long enough that repeating it is a loop, not a refrain or an interjection ("Oh")."""
    return len(line.split()) >= MIN_LINE_WORDS or (" " not in line and len(line) >= MIN_LINE_CHARS)


def find_loop(text: str) -> str | None:
    """A sentence describing the loop, or None."""
    lines = [" ".join(line.split()).lower() for line in text.splitlines()]
    long_lines = [line for line in lines if _substantial(line)]
    for line, times in Counter(long_lines).most_common(1):
        if times > MAX_LINE_REPEATS:
            return f"the line {line[:60]!r} appears {times} times"
    tokens = units(text)
    if ends_in_repetition(tokens[-200:]):
        return "the text ends repeating a phrase three or more times"
    return None
