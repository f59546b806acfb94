"""The npc form: a dialogue tree valid against its published schema, exported to Yarn Spinner and Ink."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from fabula.cli.main import cli
from fabula.forms.npc import check_npc, decoding_schema, npc_schema, to_ink, to_yarn
from tests.conftest import npm_package

ROOT = Path(__file__).resolve().parent.parent


def _tree(nodes: list[tuple[str, list[str]]]) -> dict[str, object]:
    return {
        "npc": {"name": "Old Tam", "role": "ferryman", "attitude": "secretive"},
        "nodes": [
            {"id": nid, "line": f"Line of {nid}.", "options": [{"text": f"To {n}", "next": n} for n in nexts]}
            for nid, nexts in nodes
        ],
    }


def test_published_schema_is_the_packaged_one() -> None:
    published = json.loads((ROOT / "schemas" / "npc.schema.json").read_text(encoding="utf-8"))
    assert published == npc_schema()
    jsonschema.Draft202012Validator.check_schema(published)


def test_markup_characters_and_broken_graphs_are_refused() -> None:
    good = _tree([("node1", ["node2"]), ("node2", ["node1", "end"])])
    assert check_npc(json.dumps(good))["ok"]
    bad = copy.deepcopy(good)
    bad["nodes"][0]["line"] = "Ask me <<jump node9>>"  # type: ignore[index]
    assert not check_npc(json.dumps(bad))["ok"]
    loop = _tree([("node1", ["node2"]), ("node2", ["node1"])])
    assert "it cannot be finished" in " ".join(check_npc(json.dumps(loop))["violations"])


def test_decoding_schema_allows_returning_but_keeps_the_chain() -> None:
    validator = jsonschema.Draft202012Validator(decoding_schema(3))
    circling = _tree([("node1", ["node2", "node1"]), ("node2", ["node3", "node1"]), ("node3", ["end", "node2"])])
    assert not list(validator.iter_errors(circling)) and check_npc(json.dumps(circling))["ok"]
    broken = _tree([("node1", ["node3"]), ("node2", ["node3"]), ("node3", ["end"])])
    assert list(validator.iter_errors(broken))  # node1's first option must lead on to node2


def test_yarn_and_ink_exports() -> None:
    tree = _tree([("node1", ["node2", "end"]), ("node2", ["end"])])
    assert to_yarn(tree) == (
        "title: node1\ntags: secretive\n---\nOld Tam: Line of node1.\n-> To node2\n    <<jump node2>>\n"
        "-> To end\n    <<stop>>\n===\n"
        "title: node2\ntags: secretive\n---\nOld Tam: Line of node2.\n-> To end\n    <<stop>>\n===\n"
    )
    assert to_ink(tree) == (
        "-> node1\n\n=== node1 ===\nOld Tam: Line of node1.\n+ [To node2] -> node2\n+ [To end] -> END\n\n"
        "=== node2 ===\nOld Tam: Line of node2.\n+ [To end] -> END\n"
    )


def test_npc_on_the_default_model_exports_sound_yarn(tmp_path: Path) -> None:
    out = tmp_path / "ferryman.yarn"
    result = CliRunner().invoke(
        cli, ["write", "npc", "A tired ferryman who knows where the smugglers hide.", "--seed", "2",
              "--export", str(out), "--json", "--no-stream"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert check_npc(json.loads(result.stdout)["text"])["ok"]
    yarn = out.read_text(encoding="utf-8")
    titles = re.findall(r"^title: (\S+)$", yarn, flags=re.M)
    jumps = re.findall(r"<<jump (\S+)>>", yarn)
    assert titles == ["node1", "node2", "node3", "node4"]
    assert jumps and set(jumps) <= set(titles)  # every jump lands on a node
    assert yarn.count("---") == yarn.count("===") == 4
    work_id = json.loads(result.stdout)["id"]  # the saved tree exports later to every format its form has
    ink = tmp_path / "later.ink"
    assert CliRunner().invoke(cli, ["works", "export", work_id, "-o", str(ink)]).exit_code == 0
    assert ink.read_text(encoding="utf-8") == to_ink(json.loads(json.loads(result.stdout)["text"]))


def test_export_suffix_is_checked_before_any_model_loads(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["write", "npc", "x", "--export", str(tmp_path / "tree.docx")])
    assert result.exit_code == 2 and "npc works export as ink, json, markdown, md, txt, yarn" in result.output
    result = CliRunner().invoke(cli, ["write", "story", "x", "--export", str(tmp_path / "s.yarn")])
    assert result.exit_code == 2 and "story works export as json, markdown, md, txt" in result.output


@pytest.mark.parametrize("nodes", [2, 8])
def test_every_node_count_compiles_to_a_valid_schema(nodes: int) -> None:
    jsonschema.Draft202012Validator.check_schema(decoding_schema(nodes))


@pytest.fixture(scope="session")
def inkjs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """inkjs, the Ink runtime games ship."""
    return npm_package(tmp_path_factory, "inkjs@2")


def _play_ink(inkjs: Path, source: str, tmp_path: Path) -> dict[str, Any]:
    import os
    import subprocess

    story = tmp_path / "story.ink"
    story.write_text(source, encoding="utf-8")
    script = Path(__file__).parent / "js" / "play_ink.js"
    done = subprocess.run(
        ["node", str(script), str(story)],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ | {"NODE_PATH": str(inkjs)},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_inkjs_plays_a_looping_conversation_to_its_end(inkjs: Path, tmp_path: Path) -> None:
    """Once-only choices (`*`) are used up when a conversation comes back to a node: inkjs then
    'ran out of content' in a tree our validator calls finishable. Sticky ones (`+`) do not."""
    tree = _tree([("node1", ["node2"]), ("node2", ["node1", "end"])])
    tree["nodes"][0]["line"] = "Mind the path // it floods at dusk."  # type: ignore[index]
    played = _play_ink(inkjs, to_ink(tree), tmp_path)
    assert played["errors"] == [] and played["ended"], played
    assert "Mind the path // it floods at dusk." in played["text"]  # `//` is text, not a comment
    once = _play_ink(inkjs, to_ink(tree).replace("+ [", "* ["), tmp_path)
    assert any("ran out of content" in e for e in once["errors"])  # what the old export did


@pytest.fixture(scope="session")
def yarn_bound(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """yarn-bound, a Yarn Spinner implementation for JavaScript."""
    return npm_package(tmp_path_factory, "yarn-bound@0.5")


def test_yarn_bound_plays_the_yarn_export_to_its_end(yarn_bound: Path, tmp_path: Path) -> None:
    import os
    import subprocess

    tree = _tree([("node1", ["node2"]), ("node2", ["node1", "end"])])
    tree["nodes"][0]["line"] = "Mind the path // it floods at dusk."  # type: ignore[index]
    script = tmp_path / "tam.yarn"
    script.write_text(to_yarn(tree), encoding="utf-8")
    player = Path(__file__).parent / "js" / "play_yarn.js"
    env = os.environ | {"NODE_PATH": str(yarn_bound)}
    done = subprocess.run(
        ["node", str(player), str(script), "node1"], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    played = json.loads(done.stdout)
    assert played["ended"], played
    assert "Old Tam: Mind the path // it floods at dusk." in played["lines"]  # `//` is text, not a comment
    assert "Old Tam: Line of node2." in played["lines"]
