"""The `product` form: a shop description of a product from its facts.

Every number and name in the description must be among the product's facts (`post.facts`): "150+
drawers" for a three-drawer desk is an error, and the candidate is sampled again within the
pipeline's bounded retries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from fabula.errors import FormError
from fabula.forms.base import Form, load_form, verdict
from fabula.post.facts import describe, unsupported


def build() -> Form:
    form = load_form("product")
    min_words = int(form.checks.get("min_words", 20))

    def derive(inputs: dict[str, str]) -> dict[str, str]:
        try:
            words = int(inputs["words"])
        except ValueError:
            raise FormError(f"words={inputs['words']!r} is not a number; give 30 to 300") from None
        if not 30 <= words <= 300:
            raise FormError(f"words={words} is out of range; give 30 to 300")
        return {}

    def long_enough(text: str, inputs: Mapping[str, str]) -> dict[str, Any]:
        words = len(text.split())
        most = int(inputs["words"]) * 2
        return verdict("length", min_words <= words <= most, f"{words} words ({min_words} to {most})")

    def facts(text: str, inputs: Mapping[str, str]) -> dict[str, Any]:
        extra = unsupported(text, inputs["prompt"])
        detail = f"not in the product's facts: {describe(extra)}" if extra else "every number and name is in the facts"
        return verdict("facts", not extra, detail)

    return replace(form, derive=derive, validators=(long_enough, facts), resample_when=("facts",))
