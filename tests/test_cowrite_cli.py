"""`fabula draft` on the embedded model: the outside contract on a plain file, and a manuscript's
whole loop (import, a verb, another candidate, undo, restore, diff, export)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fabula.backends import close_all
from fabula.cli.main import cli

CHAPTER = (
    "Mara kept the lighthouse on Gull Rock for eleven winters. Every evening she climbed the hundred and "
    "twelve steps, trimmed the wick and wound the clockwork that turned the lens.\n\n"
    "One morning in March a green bottle lay on the shingle below the tower. Inside was a letter, folded "
    "small, and on the outside, in a hand she did not know, was her own name.\n\n"
    "She did not open it at once. She set it on the kitchen table beside the kettle and looked at it "
    "while the water boiled.\n"
)


@pytest.fixture(scope="module")
def runner() -> Iterator[CliRunner]:
    close_all()
    yield CliRunner()
    close_all()


def _draft(runner: CliRunner, *args: str, verb: bool = True) -> Any:
    extra = ["--json", "--no-stream"] if verb else ["--json"]
    result = runner.invoke(cli, ["draft", *args, *extra], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_shrink_and_continue_keep_the_contract_on_a_plain_file(
    runner: CliRunner, tmp_path: Path, fabula_home: Path
) -> None:
    chapter = tmp_path / "chapter.txt"
    chapter.write_text(CHAPTER, encoding="utf-8")
    start = CHAPTER.index("One morning")
    end = CHAPTER.index("\n\nShe did not")
    data = _draft(runner, "shrink", str(chapter), "--start", str(start), "--end", str(end), "--seed", "4", "--n", "2")
    assert data["verb"] == "shrink" and len(data["candidates"]) == 2
    assert all(len(c["text"]) < end - start for c in data["candidates"])
    assert data["document"] == CHAPTER[:start] + data["text"] + CHAPTER[end:]  # nothing outside changed
    assert data["provenance"]["attribution"] == {
        "human_chars": len(CHAPTER) - (end - start),
        "model_chars": len(data["text"]),
    }
    assert chapter.read_text(encoding="utf-8") == CHAPTER  # not written without --write
    again = _draft(runner, "shrink", str(chapter), "--start", str(start), "--end", str(end), "--seed", "4", "--n", "2")
    texts = [c["text"] for c in data["candidates"]]
    assert [c["text"] for c in again["candidates"]] == texts  # the same seed, the same candidates
    assert not any(t.lower().startswith(("text before", "passage")) for t in texts)  # no prompt label leaks

    more = _draft(runner, "continue", str(chapter), "--seed", "1", "--n", "2", "--max-tokens", "40", "--write")
    assert more["document"].startswith(CHAPTER) and more["document"] == CHAPTER + more["text"]
    assert chapter.read_text(encoding="utf-8") == more["document"]


def test_brainstorm_gives_five_distinct_items_and_leaves_the_document(
    runner: CliRunner, tmp_path: Path, fabula_home: Path
) -> None:
    chapter = tmp_path / "chapter.txt"
    chapter.write_text(CHAPTER, encoding="utf-8")
    data = _draft(runner, "brainstorm", str(chapter), "--instruction", "next", "--seed", "2")
    keys = {" ".join(i.casefold().split()) for i in data["items"]}
    assert len(data["items"]) >= 5 and len(keys) == len(data["items"])
    assert data["document"] == CHAPTER


def test_a_manuscript_loop_from_import_to_signed_export(runner: CliRunner, tmp_path: Path, fabula_home: Path) -> None:
    from fabula.responsible.provenance import verify

    book = tmp_path / "book.md"
    book.write_text("# One\n\n" + CHAPTER + "\n# Two\n\nThe letter was dated next year.\n", encoding="utf-8")
    made = runner.invoke(cli, ["draft", "import", str(book), "--json"])
    assert made.exit_code == 0, made.stderr
    info = json.loads(made.stdout)
    mid = info["id"]
    assert [d["title"] for d in info["documents"]] == ["One", "Two"]
    start = CHAPTER.index("She did not")
    rewrite = ["rewrite", f"{mid}:d1", "--start", str(start), "--end", str(len(CHAPTER) - 1)]
    data = _draft(runner, *rewrite, "--instruction", "past-tense", "--seed", "3", "--n", "2", "--max-tokens", "80")
    node = data["provenance"]["node"]
    first_text = data["document"]
    assert runner.invoke(cli, ["draft", "swipe", f"{mid}:d1", node, "2"]).exit_code == 0
    shown = _draft(runner, "show", f"{mid}:d1", verb=False)["documents"][0]
    assert shown["text"] == CHAPTER[:start] + data["candidates"][1]["text"] + CHAPTER[len(CHAPTER) - 1 :]
    assert runner.invoke(cli, ["draft", "undo", f"{mid}:d1"]).exit_code == 0
    assert _draft(runner, "show", f"{mid}:d1", verb=False)["documents"][0]["text"] == CHAPTER
    assert runner.invoke(cli, ["draft", "restore", f"{mid}:d1", node]).exit_code == 0
    assert _draft(runner, "show", f"{mid}:d1", verb=False)["documents"][0]["text"] == first_text
    tree = _draft(runner, "history", f"{mid}:d1", verb=False)
    assert [n["verb"] for n in tree] == ["import", "rewrite", "rewrite"] and sum(n["head"] for n in tree) == 1
    diff = runner.invoke(cli, ["draft", "diff", f"{mid}:d1", "d1.0"])
    assert diff.exit_code == 0 and diff.stdout.startswith("--- d1.0")

    signing = runner.invoke(cli, ["provenance", "keygen"])
    assert signing.exit_code == 0, signing.stderr
    for suffix in ("md", "docx", "epub"):
        out = tmp_path / f"book.{suffix}"
        exported = runner.invoke(cli, ["draft", "export", mid, "-o", str(out)])
        assert exported.exit_code == 0, exported.stderr
        manifest = json.loads((tmp_path / f"book.{suffix}.provenance.json").read_text())
        assert verify(manifest, out.read_bytes())["valid"]
        assert manifest["attribution"]["model_chars"] == len(data["text"])
    wrong = runner.invoke(cli, ["draft", "export", mid, "-o", str(tmp_path / "book.pdf")])
    assert wrong.exit_code == 2 and ".docx" in wrong.stderr
    bad = runner.invoke(cli, ["draft", "shrink", f"{mid}:d1", "--start", "5", "--end", "99999"])
    assert bad.exit_code == 2 and "selection" in bad.stderr and "characters" in bad.stderr
