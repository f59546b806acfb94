"""Validate a poem against a verse form, trusting nothing the generator says about itself.

The report lists every line (syllables, which words were estimated, end word, rhyme key), the
rhyme scheme detected from the end words, and every violation; `ok` is true only with none.
"""

from __future__ import annotations

from typing import Any

from fabula.verse.english import rhyme_key, stress_pattern, syllables, words_of
from fabula.verse.forms import VerseForm


def poem_lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().splitlines() if line.strip()]


def line_report(line: str) -> dict[str, Any]:
    words = words_of(line)
    counts = [syllables(w) for w in words]
    end = words[-1] if words else ""
    return {
        "text": line,
        "syllables": sum(c for c, _ in counts),
        "estimated_words": [w for w, (_, known) in zip(words, counts, strict=True) if not known],
        "end_word": end,
        "rhyme_key": rhyme_key(end) if end else None,
        "stress": "".join(stress_pattern(w) or "?" for w in words),
    }


def detect_scheme(reports: list[dict[str, Any]]) -> str:
    """Letters by shared rhyme key in order of first appearance; '-' for an unknown end word."""
    letters: dict[str, str] = {}
    out = []
    for report in reports:
        key = report["rhyme_key"]
        if key is None:
            out.append("-")
            continue
        if key not in letters:
            letters[key] = chr(ord("A") + len(letters)) if len(letters) < 26 else "?"
        out.append(letters[key])
    return "".join(out)


def check_poem(text: str, form: VerseForm) -> dict[str, Any]:
    lines = poem_lines(text)
    reports = [line_report(line) for line in lines]
    violations: list[str] = []
    if not form.lines:
        if len(lines) < 3:
            violations.append(f"free verse needs at least 3 lines, found {len(lines)}")
    elif len(lines) != len(form.lines):
        violations.append(f"{form.title} needs {len(form.lines)} lines, found {len(lines)}")
    for i, (spec, report) in enumerate(zip(form.lines, reports, strict=False), start=1):
        count = report["syllables"]
        low, high = spec.min_syllables, spec.max_syllables
        if low is not None and high is not None and not low <= count <= high:
            want = str(low) if low == high else f"{low}-{high}"
            violations.append(f"line {i} has {count} syllables, needs {want}: {report['text']!r}")
        if report["estimated_words"]:
            report["note"] = "syllables of " + ", ".join(report["estimated_words"]) + " are estimates"
    violations += _rhyme_violations(form, reports)
    if form.rule == "long_short" and len(reports) == 5:
        long_lines = [reports[i]["syllables"] for i in (0, 1, 4)]
        short_lines = [reports[i]["syllables"] for i in (2, 3)]
        if min(long_lines) <= max(short_lines):
            violations.append("limerick lines 1, 2 and 5 must be longer than lines 3 and 4")
    return {
        "ok": not violations,
        "form": form.name,
        "expected_scheme": form.scheme,
        "rhyme_scheme": detect_scheme(reports),
        "violations": violations,
        "lines": reports,
    }


def _rhyme_violations(form: VerseForm, reports: list[dict[str, Any]]) -> list[str]:
    problems = []
    groups: dict[str, list[int]] = {}
    for i, spec in enumerate(form.lines[: len(reports)]):
        if spec.rhyme:
            groups.setdefault(spec.rhyme, []).append(i)
    for letter, members in groups.items():
        first = reports[members[0]]
        for j in members[1:]:
            other = reports[j]
            if first["rhyme_key"] is None or other["rhyme_key"] is None:
                unknown = first["end_word"] if first["rhyme_key"] is None else other["end_word"]
                problems.append(f"rhyme {letter}: {unknown!r} is not in the pronouncing dictionary")
            elif first["rhyme_key"] != other["rhyme_key"]:
                problems.append(
                    f"rhyme {letter}: line {j + 1} ends {other['end_word']!r}, which does not rhyme with "
                    f"{first['end_word']!r} (line {members[0] + 1})"
                )
            elif first["end_word"].lower() == other["end_word"].lower():
                problems.append(f"rhyme {letter}: line {j + 1} repeats the end word {other['end_word']!r}")
    return problems


def verse_forms() -> tuple[str, ...]:
    """Every form `check_verse` knows: the English ones, the Chinese ones, and the acrostic."""
    from fabula.verse.chinese import FORMS as SHI_FORMS
    from fabula.verse.forms import FORMS
    from fabula.verse.kinds import NEW_FORMS

    return (*FORMS, *SHI_FORMS, *NEW_FORMS)


def check_verse(text: str, form: object, scheme: str | None = None, **options: str) -> dict[str, Any]:
    """A poem's report against a named form, English (syllables, rhyme, stress) or Chinese
    (characters per line, 平仄, rhyme), with what the form needs in `options` (cipai, head, shape,
    first): the one dispatch every surface uses, the same `fabula.verse.kinds` that writes them."""
    from fabula.errors import InvalidParam
    from fabula.verse.forms import verse_form
    from fabula.verse.kinds import verse_kind

    if form not in verse_forms():
        raise InvalidParam("form", form, f"verse forms: {', '.join(verse_forms())}")
    kind = verse_kind({"form": str(form), "scheme": scheme or "", **options})
    if kind is None:
        return check_poem(text, verse_form(str(form)))
    return kind.check(text)
