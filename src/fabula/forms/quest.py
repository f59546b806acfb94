"""The `quest` form: game design as JSON that validates against a published JSON Schema.

Validity is the bar, not a retry loop that usually works: on llama.cpp the schema is compiled to
a grammar that decodes only valid JSON (`Request.json_schema`), and every candidate is checked by
an independent validator (`jsonschema`) plus the quest's own logic, which no schema can say: step
ids are unique, every choice leads to an existing step or to "end", every step can be reached from
the first, and some path reaches the end (the quest can be finished).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from functools import cache
from importlib import resources
from typing import Any

from fabula.forms.base import Form, load_form, verdict


@cache
def quest_schema() -> dict[str, Any]:
    """The schema shipped with fabula (the same file as schemas/quest.schema.json in the repository)."""
    text = resources.files("fabula.forms").joinpath("schemas/quest.schema.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def decoding_schema(steps: int) -> dict[str, Any]:
    """The published schema narrowed so that the quest's logic holds by construction as well.

    Steps are exactly step1..stepN in order. Step i's first choice leads on to step i+1 (the last
    step's first choice ends the quest), so every step is reachable and the quest can be finished;
    its other choices may branch to any later step or end early. Every quest this schema admits is
    valid under the published schema (a test holds this)."""
    import copy

    schema = copy.deepcopy(quest_schema())
    schema["$id"] = schema["$id"].replace(".schema.json", f".decoding-{steps}-steps.schema.json")
    step_template = schema["properties"]["steps"]["items"]
    choice = step_template["properties"]["choices"]["items"]
    tuple_steps = []
    for i in range(1, steps + 1):
        onward = f"step{i + 1}" if i < steps else "end"
        later = [f"step{j}" for j in range(i + 1, steps + 1)] + ["end"]
        first = copy.deepcopy(choice)
        first["properties"]["next"] = {"const": onward}
        other = copy.deepcopy(choice)
        other["properties"]["next"] = {"enum": later}
        step = copy.deepcopy(step_template)
        step["properties"]["id"] = {"const": f"step{i}"}
        # llama.cpp reads a tuple from "prefixItems" alone (an "items" beside it would win), so
        # "one to three choices, the first leading on" is written as a choice of three tuples
        step["properties"]["choices"] = {
            "anyOf": [{"type": "array", "prefixItems": [first] + [other] * extra} for extra in range(3)]
        }
        tuple_steps.append(step)
    schema["properties"]["steps"] = {
        "type": "array",
        "prefixItems": tuple_steps,  # with maxItems: exactly these steps (llama.cpp takes no "items": false)
        "minItems": steps,
        "maxItems": steps,
    }
    return schema


def check_quest(text: str) -> dict[str, Any]:
    """{"ok", "violations", "steps", "reachable", "finishable"} for a quest's JSON text."""
    import jsonschema

    try:
        quest = json.loads(text)
    except json.JSONDecodeError as exc:
        return {"ok": False, "violations": [f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]}
    validator = jsonschema.Draft202012Validator(quest_schema())
    violations = [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
        for error in sorted(validator.iter_errors(quest), key=lambda e: list(e.absolute_path))
    ]
    if violations:
        return {"ok": False, "violations": violations}
    steps = quest["steps"]
    ids = [step["id"] for step in steps]
    if len(set(ids)) != len(ids):
        violations.append(f"step ids repeat: {ids}")
    graph = {step["id"]: [choice["next"] for choice in step["choices"]] for step in steps}
    for sid, targets in graph.items():
        for target in targets:
            if target != "end" and target not in graph:
                violations.append(f"{sid}: a choice leads to {target!r}, which is not a step")
    reachable, frontier = {ids[0]}, [ids[0]]
    while frontier:
        for target in graph.get(frontier.pop(), []):
            if target != "end" and target in graph and target not in reachable:
                reachable.add(target)
                frontier.append(target)
    unreachable = [sid for sid in ids if sid not in reachable]
    if unreachable:
        violations.append(f"steps {unreachable} cannot be reached from {ids[0]}")
    finishable = any("end" in graph[sid] for sid in reachable)
    if not finishable:
        violations.append("no reachable step leads to the end: the quest cannot be finished")
    return {
        "ok": not violations,
        "violations": violations,
        "steps": len(steps),
        "reachable": sorted(reachable),
        "finishable": finishable,
    }


def build() -> Form:
    def valid(text: str, inputs: Mapping[str, str]) -> dict[str, Any]:
        report = check_quest(text)
        return verdict("quest_schema", report["ok"], "; ".join(report["violations"][:4]) or "valid and finishable")

    def pretty(text: str, inputs: Mapping[str, str]) -> str:
        try:
            return json.dumps(json.loads(text), ensure_ascii=False, indent=2)
        except json.JSONDecodeError:
            return text

    return replace(
        load_form("quest"),
        validators=(valid,),
        report=lambda text, inputs: check_quest(text),
        assemble=pretty,
        json_schema=lambda inputs: decoding_schema(int(inputs["steps"])),
    )
