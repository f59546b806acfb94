"""The `story` form: short prose fiction from a premise."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from fabula.forms.base import Form, load_form, verdict


def build() -> Form:
    form = load_form("story")
    checks = form.checks
    min_words = int(checks.get("min_words", 40))

    def long_enough(text: str, _inputs: Mapping[str, str]) -> dict[str, Any]:
        words = len(text.split())
        return verdict("min_words", words >= min_words, f"{words} words (at least {min_words})")

    def is_prose(text: str, _inputs: Mapping[str, str]) -> dict[str, Any]:
        sentences = len(re.findall(r"[.!?…](?:[\"'”’)]*)(?:\s|$)", text))
        return verdict("prose", sentences >= 2, f"{sentences} sentences", severity="warning")

    return replace(form, validators=(long_enough, is_prose))
