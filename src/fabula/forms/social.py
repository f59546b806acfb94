"""The `social` form: a post inside its platform's character and hashtag limits."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from fabula.forms.base import Form, load_form, verdict

HASHTAG = re.compile(r"(?<!\w)#\w+")
NAMES = {"x": "X (Twitter)", "mastodon": "Mastodon", "instagram": "Instagram", "linkedin": "LinkedIn"}


def limits(form: Form, platform: str) -> tuple[int, int]:
    max_chars, max_tags = form.checks[platform]
    return int(max_chars), int(max_tags)


def build() -> Form:
    form = load_form("social")

    def derive(inputs: dict[str, str]) -> dict[str, str]:
        max_chars, max_tags = limits(form, inputs["platform"])
        return {"platform_name": NAMES[inputs["platform"]], "max_chars": str(max_chars), "max_tags": str(max_tags)}

    def within_length(text: str, inputs: Mapping[str, str]) -> dict[str, Any]:
        max_chars, _ = limits(form, inputs["platform"])
        return verdict("max_chars", 0 < len(text) <= max_chars, f"{len(text)} characters (at most {max_chars})")

    def hashtags(text: str, inputs: Mapping[str, str]) -> dict[str, Any]:
        _, max_tags = limits(form, inputs["platform"])
        found = HASHTAG.findall(text)
        return verdict("max_hashtags", len(found) <= max_tags, f"{len(found)} hashtags (at most {max_tags})")

    return replace(form, derive=derive, validators=(within_length, hashtags))
