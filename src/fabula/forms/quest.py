"""The `quest` form: game design as JSON that validates against a published JSON Schema.

Validity is the bar, not a retry loop that usually works: on llama.cpp the schema is compiled to
a grammar that decodes only valid JSON (`Request.json_schema`), narrowed so that the quest's logic
holds too (see `fabula.forms.structured`): steps are step1..stepN, each step's first choice leads
on, others branch to a later step or end early. Every candidate is then checked independently
(`jsonschema`, plus the graph checks: choices land on steps, every step is reachable, the quest
can be finished).
"""

from __future__ import annotations

from typing import Any

from fabula.forms.base import Form
from fabula.forms.structured import check_graph_json, graph_form, json_file, load_schema, narrowed_schema


def quest_schema() -> dict[str, Any]:
    return load_schema("quest")


def decoding_schema(steps: int) -> dict[str, Any]:
    """The published schema narrowed so that the quest's logic holds by construction. Every quest
    this schema admits is valid under the published schema (a test holds this)."""
    return narrowed_schema(quest_schema(), "steps", "choices", "step", steps, back_edges=False)


def check_quest(text: str) -> dict[str, Any]:
    """{"ok", "violations", "steps", "reachable", "finishable"} for a quest's JSON text."""
    return check_graph_json(text, quest_schema(), "steps", "choices")


def build() -> Form:
    return graph_form("quest", check_quest, decoding_schema, "steps", "valid and finishable", {".json": json_file})
