"""An example fabula plugin: the `mirror` engine (it writes the prompt's words back, in reverse
order), the `fortune` form (a fortune-cookie line, checked for length) and an `.html` exporter.
fabula imports this module only when one of them is first used."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from fabula.backends.base import Capabilities
from fabula.forms.base import Form, InputSpec, verdict
from fabula.types import Completion


class MirrorBackend:
    name = "mirror"
    capabilities = Capabilities(steerable=False, streaming=True, logprobs=False, chat_template=True)

    def __init__(self, model: str, settings: Any) -> None:
        self.model_name = model or "mirror"

    def model_info(self) -> dict[str, object]:
        return {"name": self.model_name, "path": None, "sha256": None}

    def complete(self, request: Any, on_text: Any = None) -> list[Completion]:
        words = request.messages[-1].content.split()[::-1][: request.params.max_tokens]
        text = " ".join(words)
        if on_text is not None:
            on_text(0, text)
        return [Completion(text, "stop", request.params.seed, len(words), len(words))]

    def close(self) -> None:
        pass


def build_fortune() -> Form:
    form = Form(
        name="fortune",
        version=1,
        description="A fortune-cookie line.",
        default_prompt="the sea",
        inputs=(InputSpec("mood", "hopeful", "hopeful or ominous", ("hopeful", "ominous")),),
        system="You write fortune-cookie lines.",
        user="Write one {mood} fortune about {prompt}.",
        completion="A {mood} fortune about {prompt}:\n",
        checks={},
    )

    def short(text: str, _inputs: Mapping[str, str]) -> dict[str, Any]:
        words = len(text.split())
        return verdict("length", 2 <= words <= 40, f"{words} words (2 to 40)")

    return replace(form, validators=(short,))


@dataclass(frozen=True)
class Exporter:
    suffix: str
    forms: Any
    render: Any


HTML = Exporter(".html", "*", lambda text: f"<!doctype html><meta charset=utf-8><pre>{html.escape(text)}</pre>\n")
