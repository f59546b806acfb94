"""The `poem` form: free verse. Fixed forms (haiku, sonnet, 绝句) come with constrained decoding."""

from __future__ import annotations

from typing import Any

from fabula.forms.base import Form, load_form, verdict


def build() -> Form:
    checks = load_form("poem").checks
    min_lines = int(checks.get("min_lines", 3))
    max_line_words = int(checks.get("max_line_words", 20))

    def has_lines(text: str) -> dict[str, Any]:
        lines = [line for line in text.splitlines() if line.strip()]
        return verdict("min_lines", len(lines) >= min_lines, f"{len(lines)} lines (at least {min_lines})")

    def lines_are_verse(text: str) -> dict[str, Any]:
        longest = max((len(line.split()) for line in text.splitlines()), default=0)
        return verdict(
            "line_length",
            longest <= max_line_words,
            f"longest line {longest} words (at most {max_line_words})",
            severity="warning",
        )

    return load_form("poem", validators=(has_lines, lines_are_verse))
