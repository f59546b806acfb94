"""Fixed verse forms as data: lines, syllables per line and the rhyme scheme.

`syllables` is the exact count constrained decoding aims for; `min_syllables`/`max_syllables`
bound what the validator accepts (equal to the exact count for haiku and sonnet, a range where
the form is looser, as the limerick's long and short lines).
"""

from __future__ import annotations

from dataclasses import dataclass

from fabula.errors import FormError


@dataclass(frozen=True)
class LineSpec:
    syllables: int | None  # target for constrained decoding; None = free
    min_syllables: int | None = None
    max_syllables: int | None = None
    rhyme: str | None = None  # letter in the scheme; None = unrhymed


@dataclass(frozen=True)
class VerseForm:
    name: str
    title: str
    lines: tuple[LineSpec, ...]
    instruction: str
    rule: str = ""  # an extra relation between lines, checked by the validator

    @property
    def scheme(self) -> str:
        return "".join(spec.rhyme or "-" for spec in self.lines)


def _exact(counts: list[int], scheme: str) -> tuple[LineSpec, ...]:
    return tuple(LineSpec(c, c, c, None if r == "-" else r) for c, r in zip(counts, scheme, strict=True))


def _quatrain(scheme: str) -> VerseForm:
    lines = tuple(LineSpec(8, 6, 10, r) for r in scheme)
    return VerseForm(
        f"quatrain_{scheme.lower()}",
        f"quatrain ({scheme})",
        lines,
        f"Write a quatrain: four lines of about eight syllables rhyming {scheme}.",
    )


FORMS: dict[str, VerseForm] = {
    "haiku": VerseForm(
        "haiku",
        "haiku",
        _exact([5, 7, 5], "---"),
        "Write a haiku: three lines of five, seven and five syllables, a concrete image of nature.",
    ),
    "limerick": VerseForm(
        "limerick",
        "limerick",
        (
            LineSpec(8, 7, 11, "A"),
            LineSpec(8, 7, 11, "A"),
            LineSpec(5, 4, 7, "B"),
            LineSpec(5, 4, 7, "B"),
            LineSpec(8, 7, 11, "A"),
        ),
        "Write a funny limerick: five lines rhyming AABBA, lines three and four short.",
        rule="long_short",
    ),
    "quatrain": _quatrain("ABAB"),
    "quatrain_abab": _quatrain("ABAB"),
    "quatrain_aabb": _quatrain("AABB"),
    "sonnet": VerseForm(
        "sonnet",
        "Shakespearean sonnet",
        _exact([10] * 14, "ABABCDCDEFEFGG"),
        "Write a Shakespearean sonnet: fourteen lines of ten syllables rhyming ABAB CDCD EFEF GG.",
    ),
    "free": VerseForm("free", "free verse", (), "Write a free-verse poem."),
}


def verse_form(name: str, scheme: str | None = None) -> VerseForm:
    key = name.lower()
    if key == "quatrain" and scheme:
        key = f"quatrain_{scheme.lower()}"
    if key not in FORMS:
        choices = "haiku, limerick, quatrain (scheme=ABAB|AABB), sonnet, free"
        raise FormError(
            f"verse form {name!r}{f' with scheme {scheme!r}' if scheme else ''} is unknown; choose one of: {choices}"
        )
    return FORMS[key]
