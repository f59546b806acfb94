"""The `summary` form: a faithful short summary of an article, checked against it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from fabula.errors import FormError
from fabula.forms.base import Form, load_form, verdict

NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
NAME = re.compile(r"\b[A-Z][a-z]{2,}\b")


def unsupported(summary: str, article: str) -> list[str]:
    """Numbers and capitalised names in the summary that the article never mentions."""
    found = set(NUMBER.findall(summary)) - set(NUMBER.findall(article))
    words = {w.lower() for w in re.findall(r"[A-Za-z]+", article)}
    found |= {n for n in NAME.findall(summary) if n.lower() not in words}
    return sorted(found)


def build() -> Form:
    form = load_form("summary")
    min_words = int(form.checks.get("min_words", 8))

    def derive(inputs: dict[str, str]) -> dict[str, str]:
        try:
            words = int(inputs["words"])
        except ValueError:
            raise FormError(f"words={inputs['words']!r} is not a number; give 15 to 150") from None
        if not 15 <= words <= 150:
            raise FormError(f"words={words} is out of range; give 15 to 150")
        return {}

    def length(text: str, inputs: Mapping[str, str]) -> dict[str, Any]:
        words = len(text.split())
        most = int(inputs["words"]) * 2
        return verdict("length", min_words <= words <= most, f"{words} words ({min_words} to {most})")

    def faithful(text: str, inputs: Mapping[str, str]) -> dict[str, Any]:
        extra = unsupported(text, inputs["prompt"])
        detail = f"not in the article: {', '.join(extra[:6])}" if extra else "every number and name is in the article"
        return verdict("faithful", not extra, detail, severity="warning")

    return replace(form, derive=derive, validators=(length, faithful))
