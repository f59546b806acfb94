"""The `product` form: a shop description of a product from its facts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from fabula.errors import FormError
from fabula.forms.base import Form, load_form, verdict


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

    return replace(form, derive=derive, validators=(long_enough,))
