"""The `summary` form: a faithful short summary of an article, checked against it.

Every number and name in the summary must be in the article (`post.facts`): an invented one is an
error, and the candidate is sampled again within the pipeline's bounded retries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from fabula.errors import FormError
from fabula.forms.base import Form, load_form, verdict
from fabula.post.facts import describe, unsupported


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
        detail = f"not in the article: {describe(extra)}" if extra else "every number and name is in the article"
        return verdict("faithful", not extra, detail)

    return replace(form, derive=derive, validators=(length, faithful), resample_when=("faithful",))
