"""English pronunciation facts from the CMU Pronouncing Dictionary (through `pronouncing`).

Syllables are the count of vowel phonemes; a word's rhyme key is its phonemes from the last stressed
vowel on, with stress digits removed (so "light" and "delight" share "AY T"). Words the dictionary
lacks get an estimated syllable count and are reported as estimated, never silently trusted.
"""

from __future__ import annotations

import re
from functools import cache

WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")  # letters of any script, inner apostrophes
VOWEL_GROUPS = re.compile(r"[aeiouy]+")


@cache
def _pronouncing():  # type: ignore[no-untyped-def]
    import pronouncing

    pronouncing.init_cmu()
    return pronouncing


def normalise(word: str) -> str:
    return word.lower().replace("’", "'").strip("'")


def phones(word: str) -> list[str]:
    return list(_pronouncing().phones_for_word(normalise(word)))


def estimate_syllables(word: str) -> int:
    """Vowel-group estimate for words outside the dictionary (silent final e discounted)."""
    w = normalise(word)
    count = len(VOWEL_GROUPS.findall(w))
    if w.endswith("e") and not w.endswith(("le", "ee", "ye")) and count > 1:
        count -= 1
    return max(count, 1)


def syllables(word: str) -> tuple[int, bool]:
    """(syllable count, known): `known` is False when the count is an estimate."""
    pron = phones(word)
    if pron:
        return sum(ph[-1].isdigit() for ph in pron[0].split()), True
    return estimate_syllables(word), False


def rhyme_key(word: str) -> str | None:
    """Phonemes from the last stressed vowel on, stress removed; None for unknown words."""
    pron = phones(word)
    if not pron:
        return None
    part = _pronouncing().rhyming_part(pron[0])
    return re.sub(r"\d", "", part) or None


def stress_pattern(word: str) -> str | None:
    """'1' primary, '2' secondary, '0' unstressed, per syllable; None when unknown."""
    pron = phones(word)
    return _pronouncing().stresses(pron[0]) if pron else None


def words_of(line: str) -> list[str]:
    return WORD.findall(line)
