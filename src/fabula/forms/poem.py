"""The `poem` form: free verse, or a fixed form (`fabula.verse.kinds`: English, shi, ci, acrostic, couplet).

Fixed forms are kept by construction where the engine can be stepped token by token (llamacpp,
hf): a verse constraint allows only tokens that keep syllables and rhymes on course. Every
candidate, constrained or not, is then checked by the verse validator, whose full report becomes
the candidate's `checks`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from fabula.forms.base import Form, load_form, verdict
from fabula.verse.forms import VerseForm, verse_form
from fabula.verse.kinds import verse_kind


def chosen_form(inputs: Mapping[str, str]) -> VerseForm:
    return verse_form(inputs.get("form", "free"), inputs.get("scheme") if inputs.get("form") == "quatrain" else None)


def build() -> Form:
    form = load_form("poem")
    checks = form.checks
    min_lines = int(checks.get("min_lines", 3))
    max_line_words = int(checks.get("max_line_words", 20))

    def derive(inputs: dict[str, str]) -> dict[str, str]:
        kind = verse_kind(inputs)
        if kind is None:
            return {
                "instruction": f"Write a free-verse poem of about {inputs.get('lines', '8')} lines.",
                "title": chosen_form(inputs).title,
            }
        return {"instruction": kind.instruction, "title": kind.title}

    def has_lines(text: str, inputs: Mapping[str, str]) -> dict[str, Any]:
        lines = [line for line in text.splitlines() if line.strip()]
        kind = verse_kind(inputs)
        if kind is not None and kind.chinese:
            return verdict("min_lines", bool(lines), f"{len(lines)} lines")
        return verdict("min_lines", len(lines) >= min_lines, f"{len(lines)} lines (at least {min_lines})")

    def lines_are_verse(text: str, inputs: Mapping[str, str]) -> dict[str, Any]:
        longest = max((len(line.split()) for line in text.splitlines()), default=0)
        return verdict(
            "line_length",
            longest <= max_line_words,
            f"longest line {longest} words (at most {max_line_words})",
            severity="warning",
        )

    def keeps_form(text: str, inputs: Mapping[str, str]) -> dict[str, Any]:
        report = check(text, inputs)
        detail = "; ".join(report["violations"]) or f"keeps the {report.get('title') or report['form']} form"
        return verdict("verse_form", report["ok"], detail)

    def check(text: str, inputs: Mapping[str, str]) -> dict[str, Any]:
        kind = verse_kind(inputs)
        if kind is None:
            from fabula.verse.check import check_poem

            return check_poem(text, chosen_form(inputs))
        return kind.check(text)

    def constrain(inputs: Mapping[str, str]) -> Any:
        kind = verse_kind(inputs)
        return kind.constraint() if kind is not None else None

    def continuation(inputs: Mapping[str, str]) -> str:
        kind = verse_kind(inputs)
        return kind.continuation(inputs["prompt"]) if kind is not None else inputs["prompt"]

    def assemble(text: str, inputs: Mapping[str, str]) -> str:
        kind = verse_kind(inputs)
        return kind.assemble(text) if kind is not None else text

    def repair(backend: Any, request: Any, inputs: Mapping[str, str], text: str) -> tuple[str, dict[str, Any]]:
        """On an engine that cannot be stepped: regenerate the lines that break the form (bounded)."""
        from fabula.verse.repair import repair_poem

        return repair_poem(backend, request, chosen_form(inputs), text)

    return replace(
        form,
        repair=repair,
        validators=(has_lines, lines_are_verse, keeps_form),
        derive=derive,
        constrain=constrain,
        report=check,
        continuation=continuation,
        assemble=assemble,
    )
