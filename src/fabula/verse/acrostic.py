"""Acrostics: the first character (藏头诗) or the first letter of each line spells the head.

A Chinese acrostic is a shi form (五绝, 七绝, 五律, 七律) whose line i begins with the i-th head
character: every rule of the form is kept (the first position is free of 平仄 in every pattern, so
any head fits), and `ChineseVerseConstraint(heads=...)` writes it. An English acrostic is an
English fixed form with as many lines as the head has letters (MOON over a quatrain), or, with no
form named, one unrhymed line of about eight syllables per letter; `AcrosticConstraint` lets a
line begin only with its letter, as a capital, and allows no blank line.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fabula.errors import InvalidParam
from fabula.verse.constraint import VerseConstraint, VerseState
from fabula.verse.forms import LineSpec, VerseForm, verse_form
from fabula.verse.lexicon import Lexicon


def acrostic_form(head: str, shape: str | None) -> VerseForm:
    """The English form an acrostic of `head` is written in."""
    letters = head.upper()
    if shape:
        form = verse_form(shape)
        if len(form.lines) != len(letters):
            raise InvalidParam(
                "head", head, f"a {form.title} has {len(form.lines)} lines: give a head of {len(form.lines)} letters"
            )
        return replace(
            form,
            name="acrostic",
            title=f"acrostic {form.title} ({letters})",
            instruction=f"{form.instruction} The first letters of the lines spell {letters}.",
        )
    return VerseForm(
        "acrostic",
        f"acrostic ({letters})",
        tuple(LineSpec(8, 6, 10, None) for _ in letters),
        f"Write an acrostic poem: {len(letters)} lines of about eight syllables whose first letters spell {letters}.",
    )


def _first_letter(line: str) -> str:
    return next((c.upper() for c in line if c.isalpha()), "")


def check_acrostic(text: str, head: str, shape: str | None, chinese: bool) -> dict[str, Any]:
    """The form's own report, and a violation for each line that does not begin with its head."""
    if chinese:
        from fabula.verse.chinese import check_chinese
        from fabula.verse.kinds import SHAPE_BY_HEADS

        report = check_chinese(text, shape or SHAPE_BY_HEADS.get(len(head), "wujue"))
        firsts = [line["text"][:1] for line in report["lines"]]
    else:
        from fabula.verse.check import check_poem

        report = check_poem(text, acrostic_form(head, shape))
        firsts = [_first_letter(line) for line in text.splitlines() if line.strip()]
    heads = list(head if chinese else head.upper())
    violations = list(report["violations"])
    for i, want in enumerate(heads):
        got = firsts[i] if i < len(firsts) else ""
        if got != want:
            violations.append(f"line {i + 1} must begin with {want!r}, begins with {got or 'nothing'!r}")
    return {
        **report,
        "ok": not violations,
        "form": "acrostic",
        "head": head,
        "firsts": "".join(firsts),
        "violations": violations,
    }


class AcrosticConstraint(VerseConstraint):
    """The English verse constraint with each line's first letter fixed, and no blank lines."""

    def __init__(self, form: VerseForm, lexicon: Lexicon, head: str) -> None:
        super().__init__(form, lexicon)
        self.head = head.upper()

    def _char(self, s: VerseState, char: str) -> VerseState | None:
        if s.last == "start" and char.isascii() and char.isalpha() and char != self.head[s.line]:
            return None  # a line's first letter, a capital
        if char == "\n" and s.last == "start":
            return None  # no blank lines: the heads are read down one column
        return super()._char(s, char)
