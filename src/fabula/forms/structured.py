"""What structured forms (quest, npc) share: their published schemas, a narrowing of a schema so
that a graph of steps or nodes is sound by construction, and the graph checks themselves.

A quest's steps and a dialogue's nodes are graphs: items with ids, and edges (choices, options)
that name another item or "end". A JSON Schema can say what an item looks like, but not that an
edge lands on an existing item, that every item can be reached, or that the end can be. The
narrowed decoding schema makes those true by construction (items are exactly PREFIX1..PREFIXN in
order, and item i's first edge leads to item i+1, the last item's to "end"), and
`graph_violations` checks them independently on whatever comes out.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fabula.forms.base import Form


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A schema shipped with fabula (the same file as schemas/NAME.schema.json in the repository)."""
    text = resources.files("fabula.forms").joinpath(f"schemas/{name}.schema.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def narrowed_schema(
    schema: dict[str, Any], items: str, edges: str, prefix: str, count: int, back_edges: bool
) -> dict[str, Any]:
    """`schema` with its `items` array fixed to PREFIX1..PREFIXcount and each item's first edge
    leading on; other edges go to any later item or "end" (and, with `back_edges`, to earlier
    items too: a conversation may return to a question)."""
    out = copy.deepcopy(schema)
    out["$id"] = out["$id"].replace(".schema.json", f".decoding-{count}.schema.json")
    item = out["properties"][items]["items"]
    edge = item["properties"][edges]["items"]
    most = item["properties"][edges].get("maxItems", 3)
    tuple_items = []
    for i in range(1, count + 1):
        onward = f"{prefix}{i + 1}" if i < count else "end"
        targets = [f"{prefix}{j}" for j in range(1, count + 1) if back_edges or j > i] + ["end"]
        first, other = copy.deepcopy(edge), copy.deepcopy(edge)
        first["properties"]["next"] = {"const": onward}
        other["properties"]["next"] = {"enum": targets}
        one = copy.deepcopy(item)
        one["properties"]["id"] = {"const": f"{prefix}{i}"}
        # llama.cpp reads a tuple from "prefixItems" alone (an "items" beside it would win), so
        # "one to `most` edges, the first leading on" is a choice among tuples; by the standard a
        # tuple admits any extra items unless its length is bounded (llguidance holds to that)
        one["properties"][edges] = {
            "anyOf": [
                {
                    "type": "array",
                    "prefixItems": [first] + [other] * extra,
                    "minItems": extra + 1,
                    "maxItems": extra + 1,
                }
                for extra in range(most)
            ]
        }
        tuple_items.append(one)
    # with minItems = maxItems: exactly these items (llama.cpp takes no "items": false)
    out["properties"][items] = {"type": "array", "prefixItems": tuple_items, "minItems": count, "maxItems": count}
    return out


def graph_violations(nodes: list[dict[str, Any]], edges: str) -> tuple[list[str], list[str], bool]:
    """(violations, reachable ids, finishable) for items with "id" and edges with "next"."""
    violations: list[str] = []
    ids = [node["id"] for node in nodes]
    if len(set(ids)) != len(ids):
        violations.append(f"ids repeat: {ids}")
    graph = {node["id"]: [edge["next"] for edge in node[edges]] for node in nodes}
    for nid, targets in graph.items():
        for target in targets:
            if target != "end" and target not in graph:
                violations.append(f"{nid}: leads to {target!r}, which does not exist")
    reachable, frontier = {ids[0]}, [ids[0]]
    while frontier:
        for target in graph.get(frontier.pop(), []):
            if target != "end" and target in graph and target not in reachable:
                reachable.add(target)
                frontier.append(target)
    unreachable = [nid for nid in ids if nid not in reachable]
    if unreachable:
        violations.append(f"{unreachable} cannot be reached from {ids[0]}")
    finishable = any("end" in graph[nid] for nid in reachable)
    if not finishable:
        violations.append("nothing reachable leads to the end: it cannot be finished")
    return violations, sorted(reachable), finishable


def check_graph_json(text: str, schema: dict[str, Any], items: str, edges: str) -> dict[str, Any]:
    """The full check of a structured form's text: JSON, the published schema, then the graph.
    Returns {"ok", "violations"} and, when the schema holds, the item count, the reachable ids and
    whether the end can be reached."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return {"ok": False, "violations": [f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]}
    violations = schema_violations(data, schema)
    if violations:
        return {"ok": False, "violations": violations}
    graph, reachable, finishable = graph_violations(data[items], edges)
    return {
        "ok": not graph,
        "violations": graph,
        items: len(data[items]),
        "reachable": reachable,
        "finishable": finishable,
    }


def schema_violations(data: Any, schema: dict[str, Any]) -> list[str]:
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message}"
        for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    ]


def pretty_json(text: str, inputs: Mapping[str, str]) -> str:
    """The work's text: the JSON indented (as generated if it does not parse, so nothing is lost)."""
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, indent=2)
    except json.JSONDecodeError:
        return text


def json_file(text: str) -> str:
    return text + "\n"


def graph_form(
    name: str,
    check: Callable[[str], dict[str, Any]],
    schema_for: Callable[[int], dict[str, Any]],
    size_input: str,
    valid_detail: str,
    exports: Mapping[str, Callable[[str], str]],
) -> Form:
    """A structured form whose text is a JSON graph (a quest's steps, an NPC's dialogue nodes):
    decoded inside `schema_for(size)`, checked by `check`, laid out as pretty JSON."""
    from dataclasses import replace

    from fabula.forms.base import load_form, verdict

    def valid(text: str, inputs: Mapping[str, str]) -> dict[str, Any]:
        report = check(text)
        return verdict(f"{name}_schema", report["ok"], "; ".join(report["violations"][:4]) or valid_detail)

    return replace(
        load_form(name),
        validators=(valid,),
        report=lambda text, inputs: check(text),
        assemble=pretty_json,
        json_schema=lambda inputs: schema_for(int(inputs[size_input])),
        exports=exports,
    )
