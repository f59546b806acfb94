"""Language identity: a work is in the language it was asked for.

A 135M model drifts: a quest's dialogue turns into German-like noise ("Wir es vielleicht nach der
Kaffeewie"), a screenplay into pseudo-Spanish, a studio script into Turkish-like gibberish, and
every form check still passes, because syllables and rhymes do not care which language they are
in. Each passage of the work (a paragraph; for JSON, each string value) of at least `MIN_WORDS`
words is identified offline with py3langid (langid.py's 97-language naive Bayes model over byte
n-grams, shipped in its wheel, about 0.4 ms a passage), and the work fails when a passage's
probability of the expected language falls under `THRESHOLD` while another language is
`CONFIDENT` (a flat answer, as for a line of names, says nothing).

Measured on our own samples (benchmarks/README.md, "Language identity"): the embedded model's
English passages score 0.58 or more and its drifted ones 0.006 or less; of 11,011 paragraphs of
Austen and Melville, 3 score under 0.2 (quoted French and a list of names). Chinese works are held
to their script instead (Han characters, which the Tang model writes by construction), since a
four-line poem is too short a text for byte n-grams to tell Chinese from Japanese.

An English passage in which at least a fifth of the words are common English function words
("the", "and", "of", ...) is taken as English without loading the model (about 0.5 s on a busy
machine, which a one-haiku command would otherwise pay); the drifted passages above have none.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from typing import Any

MIN_WORDS = 6
THRESHOLD = 0.2
CONFIDENT = 0.25  # and another language this likely: a row of names or "Veni, vidi, vici" is no language
SECTION_LABEL = re.compile(r"^\s*\[[^\]\n]*\]\s*$", re.MULTILINE)
HAN = re.compile(r"[\u4e00-\u9fff]")
LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
WORD = re.compile(r"[^\W\d_][\w'’-]*", re.UNICODE)
ENGLISH_FUNCTION_WORDS = frozenset(
    """the a an and of to in is it you that he she was for on are with as i his her they be at by
    this from or my your we not but all me so no have has had were will would can what when who""".split()
)


@cache
def _identifier() -> Any:
    import py3langid.langid as langid

    return langid.LanguageIdentifier.from_model_file(langid.MODEL_FILE, norm_probs=True)


def probabilities(text: str) -> dict[str, float]:
    """Every language's probability for `text` (they sum to 1)."""
    return {lang: float(p) for lang, p in _identifier().rank(text)}


def passages(text: str) -> list[str]:
    """The paragraphs of a text, or the string values of a JSON text, in order."""
    stripped = text.strip()
    if stripped[:1] in "{[":
        try:
            return list(_strings(json.loads(stripped)))
        except json.JSONDecodeError:
            pass
    return [p for p in re.split(r"\n\s*\n", text) if p.strip()]


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict | list):
        for value in node.values() if isinstance(node, dict) else node:
            yield from _strings(value)


def check_language(text: str, expected: str) -> tuple[bool, str]:
    """(in the expected language, a detail naming the first passage that is not, and what it reads as)."""
    text = SECTION_LABEL.sub("", text)  # a song's "[Verse 1]" is layout, in English whatever the song's language
    if expected == "zh":
        letters = LETTER.findall(text)
        share = len(HAN.findall(text)) / len(letters) if letters else 1.0
        return share >= 0.9, f"{share:.0%} of its letters are Han characters"
    checked = 0
    for number, passage in enumerate(passages(text), start=1):
        if len(WORD.findall(passage)) < MIN_WORDS:
            continue
        checked += 1
        if expected == "en" and _plainly_english(passage):
            continue
        ranked = probabilities(passage)
        best = max((lang for lang in ranked if lang != "zxx"), key=ranked.__getitem__)  # zxx: no language
        if ranked.get(expected, 0.0) < THRESHOLD and ranked[best] >= CONFIDENT:
            quote = " ".join(passage.split())[:60]
            return False, (
                f"passage {number} reads as {best} ({ranked[best]:.2f}), not {expected} "
                f"({ranked.get(expected, 0.0):.2f}): {quote!r}"
            )
    return True, f"{checked} passage(s) of {MIN_WORDS}+ words read as {expected}"


def _plainly_english(passage: str) -> bool:
    found = [w.lower() for w in WORD.findall(passage)]
    return sum(w in ENGLISH_FUNCTION_WORDS for w in found) >= 0.2 * len(found)


def expected_language(form: str, inputs: dict[str, str]) -> str:
    """What a work is asked to be in: Chinese for Chinese verse and Chinese lyrics, else English
    (the language every other form's template is written in)."""
    from fabula.verse.kinds import written_in_chinese

    if written_in_chinese(form, inputs):
        return "zh"
    return "en"
