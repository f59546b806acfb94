"""Facts kept: the numbers and names in a text that writes up a source (an article, a product's
facts) must come from that source.

A summary or a product description is trusted because it says only what it was given. The small
models invent confidently: "150+ drawers" for a three-drawer desk, "four cafes this week" for
forty cafes over two years, a byline "By Mark Zuckerberg" on a hotel review. Both kinds of claim
are cheap to read off the text and to look up in the source:

  numbers  digits ("350", "1,200", "3.5", "150+", "40%") and English number words ("four",
           "twenty-five", "two hundred", "a dozen") as values, so "40" supports "forty" and
           "three-drawer" supports "3 drawers". "One" alone is left out: it is a pronoun as often
           as a count ("the one she loved").
  names    capitalised words that are not there for grammar: inside a sentence, or opening one
           and followed by another capitalised word ("Mark Zuckerberg said"), never a function
           word ("The", "Our") nor the words of a Title Case or ALL CAPS heading line (a byline,
           "By Mark Zuckerberg", is names, not a heading). A name is
           supported when the source has the same word in any case ("Walnut" from "walnut").

What is left over is unsupported, and the check that uses this is an error: the candidate is
resampled within the pipeline's bounded retries, and a text that still invents is not "passed".
A paraphrase with no number or name ("a small desk") is never flagged: this checks the claims a
reader could verify, not meaning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

UNITS = {
    "zero": 0, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "dozen": 12,
}  # fmt: skip
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
WORD = "|".join(sorted([*UNITS, *TENS, *SCALES, "one"], key=len, reverse=True))
# "a" only opens a phrase ("a dozen", "a hundred"); "and" is not read ("three and four" is two numbers)
NUMBER_WORDS = re.compile(rf"\b(?:a[\s-]+)?(?:{WORD})(?:[\s-]+(?:{WORD}))*\b", re.IGNORECASE)
DIGITS = re.compile(r"(?<![\w.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\w.,])\d+(?:\.\d+)?")
SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
CAPITALISED = re.compile(r"[A-Z][A-Za-z'’-]*[A-Za-z]|[A-Z]")
FUNCTION_WORDS = frozenset(
    """a an the this that these those it its our your their my his her we you they he she i
    in on at by for with from of to and but or so if when while as is are was were be meet
    introducing discover perfect here there now new each every all some many most both after
    before during under over about according""".split()
)


@dataclass(frozen=True)
class Claim:
    kind: str  # "number" or "name"
    text: str  # as written
    value: float | str  # what is compared: a number's value, a name in lower case


def _word_number(phrase: str) -> float | None:
    """'twenty-five' -> 25, 'two hundred' -> 200, 'a dozen' -> 12; None for 'one', 'a' alone."""
    words = [w for w in re.split(r"[\s-]+", phrase.lower()) if w]
    if len(words) > 1 and words[0] in ("a", "one") and words[1] not in SCALES and words[1] != "dozen":
        words = words[1:]  # "a ten-minute walk", "one two three"
    if all(w in ("one", "a") for w in words):
        return None
    total, current = 0, 0
    for w in words:
        if w in ("one", "a"):
            current += 1
        elif w in UNITS:
            current = current * UNITS[w] if w == "dozen" and current else current + UNITS[w]
        elif w in TENS:
            current += TENS[w]
        else:
            current = (current or 1) * SCALES[w]
            if SCALES[w] >= 1_000:
                total, current = total + current, 0
    return float(total + current)


def numbers(text: str) -> list[Claim]:
    """Every number as a claim; a scale word after digits ("1.5 million") belongs to the digits,
    which are what is compared (sources write "1.5 mln" as often as "1.5 million")."""
    out = [Claim("number", m.group(), float(m.group().replace(",", ""))) for m in DIGITS.finditer(text)]
    for m in NUMBER_WORDS.finditer(text):
        value = _word_number(m.group())
        after_digits = re.search(r"\d\s*$", text[: m.start()]) is not None
        if value is not None and not (after_digits and m.group().lower() in SCALES):
            out.append(Claim("number", m.group(), value))
    return out


BYLINE = re.compile(r"(written |photo |photos |reported |words )?by$|credits?$|from$", re.IGNORECASE)


def _is_heading(words: list[str]) -> bool:
    """A Title Case or ALL CAPS line ("Elegant Walnut Writing Desk"), where capitals are style;
    a byline ("By Mark Zuckerberg") is all names, never a heading."""
    letters = [w for w in words if w[:1].isalpha()]
    if len(letters) < 3 or BYLINE.match(" ".join(letters[:2])) or BYLINE.match(letters[0]):
        return False
    capitalised = sum(w[0].isupper() for w in letters)
    return capitalised / len(letters) >= 0.6 or all(w.isupper() for w in letters)


def names(text: str) -> list[Claim]:
    """Capitalised words that name something (see the module's docstring for which)."""
    out: list[Claim] = []
    for line in text.splitlines():
        for sentence in SENTENCE.findall(line):
            words = re.findall(r"[\w'’-]+", sentence)
            if _is_heading(words):
                continue
            for i, word in enumerate(words):
                if not CAPITALISED.fullmatch(word) or word == "I":
                    continue
                bare = re.sub(r"['’]s$", "", word)
                if bare.lower() in FUNCTION_WORDS:
                    continue
                follows_name = i + 1 < len(words) and words[i + 1][:1].isupper()
                if i == 0 and not follows_name:
                    continue  # a capital for grammar, not a name
                out.append(Claim("name", word, bare.lower()))
    return out


def unsupported(text: str, source: str) -> list[Claim]:
    """The numbers and names of `text` that `source` does not contain, in order, each once."""
    have_numbers = {c.value for c in numbers(source)}
    source_words = [w.lower() for w in re.findall(r"[\w'’]+", source)]
    have_words = set(source_words) | {re.sub(r"['’]s$", "", w) for w in source_words}
    found: dict[tuple[str, float | str], Claim] = {}
    for claim in numbers(text):
        if claim.value not in have_numbers:
            found.setdefault((claim.kind, claim.value), claim)
    for claim in names(text):
        # in "Zealand-based" or "Italian-inspired" only the capitalised parts name anything
        parts = [p.lower() for p in re.split(r"[-'’]", re.sub(r"['’]s$", "", claim.text)) if p[:1].isupper()]
        if not all(p in have_words for p in parts):
            found.setdefault((claim.kind, claim.value), claim)
    return list(found.values())


def describe(claims: list[Claim], limit: int = 6) -> str:
    """'numbers 150, four; names Zuckerberg' for a verdict's detail."""
    parts = []
    for kind in ("number", "name"):
        shown = [c.text for c in claims if c.kind == kind][:limit]
        if shown:
            parts.append(f"{kind}s {', '.join(shown)}")
    return "; ".join(parts)
