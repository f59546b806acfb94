"""Lyric syllables: spelling split for display ("to-geth-er") and stress for placement on beats.

Counts and stress come from the CMU dictionary; pyphen's hyphenation splits the spelling, and is
forced to the CMU count when the two disagree. One-syllable function words are sung unstressed.

Chinese has no word stress: each character is one syllable, and a line's accents fall where its
reading pauses, on the even characters and the last (the 2+2+3 of a seven-character line, the 2+3
of a five). Each Chinese syllable also carries its Mandarin tone, so the melody can follow it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from fabula.verse.english import stress_pattern, syllables, words_of

FUNCTION_WORDS = frozenset(
    "a an the and or but nor of to in on at for with by from as is are was were be am my your his her its "
    "our their that this than then if so i you he she it we they me him us them do does did has have had "
    "will would can could shall should may might must not no".split()
)


@dataclass(frozen=True)
class Syllable:
    text: str  # spelling of this syllable
    stressed: bool
    word_start: bool
    word_end: bool
    tone: int = 0  # Mandarin tone 1-4 (5 neutral) of a Chinese syllable; 0 for English

    @property
    def lyric(self) -> str:
        """The syllable as a lyric event: a trailing hyphen when the word goes on."""
        return self.text if self.word_end else self.text + "-"


@cache
def _hyphenator():  # type: ignore[no-untyped-def]
    import pyphen

    return pyphen.Pyphen(lang="en_US")


VOWELS = re.compile(r"[aeiouy]+", re.IGNORECASE)


def split_word(word: str, count: int) -> list[str]:
    """Spelling split into `count` sung syllables: pyphen's hyphenation when it agrees with the
    dictionary, else a cut before the consonant that precedes each vowel group ("to-night")."""
    if count <= 1:
        return [word]
    parts = _hyphenator().inserted(word).split("-")
    if len(parts) == count:
        return parts
    groups = [m.start() for m in VOWELS.finditer(word)]
    if len(groups) >= count:
        cuts: list[int] = []
        for start in groups[1:count]:
            cut = start - 1 if start - 1 > (cuts[-1] if cuts else 0) else start
            cuts.append(cut)
        bounds = [0, *cuts, len(word)]
        pieces = [word[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
        if all(pieces):
            return pieces
    size = max(len(word) // count, 1)  # last resort: even letter chunks
    chunks = [word[i * size : (i + 1) * size] for i in range(count - 1)]
    return [*chunks, word[(count - 1) * size :]] if all(chunks) else [word] + [""] * (count - 1)


def chinese_syllables(line: str) -> list[Syllable]:
    from pypinyin import Style, pinyin

    from fabula.verse.chinese import HAN

    chars = HAN.findall(line)
    readings = pinyin("".join(chars), style=Style.TONE3, neutral_tone_with_five=True) if chars else []
    out = []
    for i, (char, reading) in enumerate(zip(chars, readings, strict=True)):
        tone = int(reading[0][-1]) if reading and reading[0][-1].isdigit() else 5
        out.append(Syllable(char, i % 2 == 1 or i == len(chars) - 1, True, True, tone))
    return out


def line_syllables(line: str) -> list[Syllable]:
    from fabula.verse.chinese import HAN

    if HAN.search(line):
        return chinese_syllables(line)
    out: list[Syllable] = []
    for word in words_of(line):
        stresses = word_stresses(word)
        count = len(stresses)
        parts = split_word(word, count)
        for i, (part, stressed) in enumerate(zip(parts, stresses, strict=True)):
            out.append(Syllable(part or "~", stressed, i == 0, i == count - 1))
    return out


@cache
def word_stresses(word: str) -> tuple[bool, ...]:
    """Whether each syllable of an English word is sung stressed: the dictionary's primary and
    secondary stress (the first syllable of an unknown word), a one-syllable function word never."""
    count, _known = syllables(word)
    pattern = stress_pattern(word) or ("1" + "0" * (count - 1))
    if len(pattern) != count:
        pattern = ("1" + "0" * count)[:count]
    return tuple(stress in "12" and not (count == 1 and word.lower() in FUNCTION_WORDS) for stress in pattern)
