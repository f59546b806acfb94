"""The `npc` form: a non-player character and a dialogue tree, as JSON valid against a published
schema and exported to the two formats game studios script dialogue in, Yarn Spinner and Ink.

Decoding works as for quests (`fabula.forms.structured`): on llama.cpp a narrowed schema is the
grammar, with nodes node1..nodeN and each node's first option leading on (the last one's ends the
talk). Other options may return to any node, since conversations circle back. Lines and options
cannot contain the characters Yarn and Ink use for markup (<>{}[]#), so the exports need no escaping.
"""

from __future__ import annotations

import json
from typing import Any

from fabula.forms.base import Form
from fabula.forms.structured import check_graph_json, graph_form, json_file, load_schema, narrowed_schema


def npc_schema() -> dict[str, Any]:
    return load_schema("npc")


def decoding_schema(nodes: int) -> dict[str, Any]:
    return narrowed_schema(npc_schema(), "nodes", "options", "node", nodes, back_edges=True)


def check_npc(text: str) -> dict[str, Any]:
    """{"ok", "violations", "nodes", "reachable", "finishable"} for a dialogue tree's JSON text."""
    return check_graph_json(text, npc_schema(), "nodes", "options")


def _no_comment(text: str) -> str:
    """Ink and Yarn read `//` as the start of a comment, even inside a line: escape it."""
    return text.replace("//", "\\/\\/")


def to_yarn(tree: dict[str, Any]) -> str:
    """Yarn Spinner 2: one node per dialogue node; options are shortcut options (->) that jump."""
    name = _no_comment(tree["npc"]["name"])
    blocks = []
    for node in tree["nodes"]:
        line = _no_comment(node["line"])
        lines = [f"title: {node['id']}", f"tags: {tree['npc']['attitude']}", "---", f"{name}: {line}"]
        for option in node["options"]:
            target = "<<stop>>" if option["next"] == "end" else f"<<jump {option['next']}>>"
            lines += [f"-> {_no_comment(option['text'])}", f"    {target}"]
        lines.append("===")
        blocks.append("\n".join(lines))
    return "\n".join(blocks) + "\n"


def to_ink(tree: dict[str, Any]) -> str:
    """Ink: a knot per node; options are sticky choices (`+`) whose text is not echoed ([...]) and
    divert. Sticky, because a conversation may come back to a node: once-only choices (`*`) are
    used up on the first visit, and a tree our validator calls finishable then ran out of content
    in inkjs."""
    name = _no_comment(tree["npc"]["name"])
    out = [f"-> {tree['nodes'][0]['id']}", ""]
    for node in tree["nodes"]:
        out += [f"=== {node['id']} ===", f"{name}: {_no_comment(node['line'])}"]
        for option in node["options"]:
            target = "END" if option["next"] == "end" else option["next"]
            out.append(f"+ [{_no_comment(option['text'])}] -> {target}")
        out.append("")
    return "\n".join(out)


def _exporter(render: Any) -> Any:
    return lambda text: render(json.loads(text))


EXPORTS = {".yarn": _exporter(to_yarn), ".ink": _exporter(to_ink), ".json": json_file}


def build() -> Form:
    return graph_form("npc", check_npc, decoding_schema, "nodes", "valid, every node reachable", EXPORTS)
