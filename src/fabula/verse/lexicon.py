"""The word list constrained decoding chooses from, with prefix tables built once and cached.

For every prefix of every dictionary word we keep a bitmask of the syllable counts its completions
can have (bit c set: some completion has c syllables). A decoder holding a partial word and a
remaining syllable budget asks one dictionary lookup whether the word can still end well. Rhyme
classes get the same table on demand. The tables are pickled under FABULA_HOME/cache, since
building them from the CMU dictionary takes a few seconds.
"""

from __future__ import annotations

import os
import pickle
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

LEXICON_VERSION = 8
# Two-letter words worth keeping; other short words must be frequent (web lists hold "ee", "ko").
SHORT_WORDS = frozenset("a i o am an as at be by do go he if in is it me my no of oh on or so to up us we ye".split())
SHORT_MIN_ZIPF = 4.0
COMMON_WORDS = 30000  # keep the dictionary words among this many most frequent English words
RICH_RHYME_MIN = 25  # a first rhyme word's class needs this many words of one or two syllables
WORD_OK = re.compile(r"^[a-z]+(?:'[a-z]+)?$")
SINGLE_LETTERS = {"a", "i", "o"}
MAX_SYLLABLES = 15


@dataclass
class Lexicon:
    words: dict[str, tuple[int, str]]  # word -> (syllables, rhyme key)
    prefixes: dict[str, int]  # prefix -> mask of completion syllable counts
    rich: dict[str, int]  # the same, over words whose rhyme class is rich
    _by_key: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _rhyme_cache: dict[tuple[str, frozenset[str]], dict[str, int]] = field(default_factory=dict, repr=False)

    def rhyme_prefixes(self, key: str, exclude: frozenset[str] = frozenset()) -> dict[str, int]:
        """Prefix masks over the words of one rhyme class, without the excluded (already used) words."""
        cache_key = (key, exclude)
        table = self._rhyme_cache.get(cache_key)
        if table is None:
            if not self._by_key:
                for word, (_, k) in self.words.items():
                    self._by_key.setdefault(k, []).append(word)
            table = {}
            for word in self._by_key.get(key, ()):
                if word not in exclude:
                    _add(table, word, self.words[word][0])
            self._rhyme_cache[cache_key] = table
        return table


def _add(table: dict[str, int], word: str, count: int) -> None:
    bit = 1 << count
    for end in range(1, len(word) + 1):
        prefix = word[:end]
        table[prefix] = table.get(prefix, 0) | bit


INFLECTIONS = ("'s", "s", "es", "ed", "d", "ing", "er", "est", "ly")


def _in_dictionary(word: str, dictionary: set[str]) -> bool:
    if word in dictionary or "'" in word:
        return True  # contractions (don't, o'er) are not in the list but are real
    return any(word.endswith(end) and word[: -len(end)] in dictionary for end in INFLECTIONS) or any(
        word.endswith(end) and word[: -len(end)] + "e" in dictionary for end in ("ed", "ing", "er", "est")
    )


def build_lexicon() -> Lexicon:
    """CMU words that are common English (wordfreq's top list) and real dictionary words (Webster's
    word list, inflections allowed): the CMU dictionary and frequency lists alone hold
    abbreviations, names and web slang ("naacp", "ee", "nah") that a constrained decoder would
    happily reach for when the model's own choices do not fit."""
    from english_words import get_english_words_set
    from wordfreq import top_n_list

    from fabula.verse.english import _pronouncing

    pron = _pronouncing()
    dictionary = get_english_words_set(["web2"], lower=True, alpha=True)
    from wordfreq import zipf_frequency

    common = {
        w
        for w in top_n_list("en", COMMON_WORDS)
        if _in_dictionary(w, dictionary)
        and (len(w) > 3 or w in SHORT_WORDS or (len(w) == 3 and zipf_frequency(w, "en") >= SHORT_MIN_ZIPF))
    }
    words: dict[str, tuple[int, str]] = {}
    for raw, phones in pron.pronunciations:  # first pronunciation of each word wins
        word = raw.lower()
        if word in words or word not in common or not WORD_OK.match(word):
            continue
        if len(word) == 1 and word not in SINGLE_LETTERS:
            continue
        count = sum(ph[-1].isdigit() for ph in phones.split())
        if not 1 <= count <= MAX_SYLLABLES:
            continue
        part = pron.rhyming_part(phones)
        # only a stressed vowel makes a rhyme: "the" or "a" (unstressed) can end no rhyming line
        key = re.sub(r"\d", "", part) if re.search(r"[12]", part) else ""
        words[word] = (count, key)
    prefixes: dict[str, int] = {}
    rich: dict[str, int] = {}
    # Richness counts short words only: a line's last word usually has one or two syllables left.
    sizes = Counter(key for count, key in words.values() if count <= 2)
    for word, (count, key) in words.items():
        _add(prefixes, word, count)
        if key and sizes[key] >= RICH_RHYME_MIN:
            _add(rich, word, count)
    return Lexicon(words, prefixes, rich)


_loaded: Lexicon | None = None


def load_lexicon(cache_dir: Path | None = None) -> Lexicon:
    """The lexicon, from the on-disk cache when present (built and written atomically otherwise)."""
    global _loaded
    if _loaded is not None:
        return _loaded
    path = cache_dir / f"lexicon-v{LEXICON_VERSION}.pickle" if cache_dir else None
    if path and path.is_file():
        try:
            with path.open("rb") as handle:
                words, prefixes, rich = pickle.load(handle)
            _loaded = Lexicon(words, prefixes, rich)
            return _loaded
        except (OSError, pickle.UnpicklingError, ValueError, EOFError):
            pass  # a damaged cache is rebuilt below
    _loaded = build_lexicon()
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as handle:
            pickle.dump((_loaded.words, _loaded.prefixes, _loaded.rich), handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    return _loaded
