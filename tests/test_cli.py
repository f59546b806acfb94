"""The CLI's `--json` contract, its error messages and exit codes, and the works commands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from fabula.backends import close_all
from fabula.cli.main import cli
from tests.conftest import scripted

CONTRACT_PROVENANCE = {"engine", "model", "params", "seed", "prompt", "template", "created_at", "fabula_version"}


@pytest.fixture(autouse=True)
def _fresh_engines() -> Iterator[None]:
    close_all()
    yield
    close_all()


def run(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_write_json_contract() -> None:
    result = run("write", "story", "a fox", "--engine", "fake", "--json", "--n", "3", "--seed", "11")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    data = json.loads(result.stdout)  # type: ignore[attr-defined]
    assert {"id", "form", "text", "candidates", "provenance"} <= set(data)
    assert CONTRACT_PROVENANCE <= set(data["provenance"])
    assert len(data["candidates"]) == 3
    assert all({"text", "scores", "verdicts"} <= set(c) for c in data["candidates"])
    assert data["provenance"]["seed"] == 11 and data["provenance"]["candidate_seeds"] == [11, 12, 13]
    assert data["provenance"]["params"]["n"] == 3
    assert data["form"] == "story" and data["text"]


def test_saved_work_is_listed_shown_and_exported(tmp_path: object) -> None:
    data = json.loads(run("write", "poem", "snow", "--engine", "fake", "--json").stdout)  # type: ignore[attr-defined]
    listed = json.loads(run("works", "list", "--json").stdout)  # type: ignore[attr-defined]
    assert [row["id"] for row in listed] == [data["id"]]
    shown = json.loads(run("works", "show", data["id"][:8], "--json").stdout)  # type: ignore[attr-defined]
    assert shown["text"] == data["text"] and shown["provenance"] == data["provenance"]
    exported = run("works", "export", data["id"], "--format", "txt").stdout  # type: ignore[attr-defined]
    assert exported.strip() == data["text"].strip()


def test_streaming_prints_text_and_provenance_line() -> None:
    scripted(
        [
            "Snow fell on the harbour. The gulls went quiet, and the ferry stayed tied to its posts. "
            "Mara walked the sea wall with her father's lantern, counting the boats that had not come back, "
            "and at the end of the wall she found a boy asleep in a coil of rope, a letter pinned to his coat."
        ]
    )
    result = run("write", "story", "harbour", "--engine", "fake", "--seed", "1")
    assert result.exit_code == 0  # type: ignore[attr-defined]
    assert "Snow fell on the harbour." in result.stdout  # type: ignore[attr-defined]
    assert "saved work" in result.stderr and "provenance: engine=fake" in result.stderr  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--temperature", "-1"], "temperature=-1.0 is not allowed"),
        (["--temperature", "nan"], "NaN and infinity are refused"),
        (["--top-p", "1.5"], "top_p=1.5 is not allowed"),
        (["--max-tokens", "0"], "max_tokens=0 is not allowed"),
        (["--n", "40"], "n=40 is not allowed"),
        (["--set", "mood=sad"], "no input 'mood'"),
        (["--set", "novalue"], "must look like KEY=VALUE"),
        (["--engine", "gpt9"], "engine 'gpt9' is unknown"),
    ],
)
def test_bad_input_is_a_clear_error_not_a_crash(args: list[str], message: str) -> None:
    result = run("write", "story", "x", "--engine", "fake", *args)
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert message in result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in result.output  # type: ignore[attr-defined]


def test_rejected_work_is_saved_and_exit_code_says_so() -> None:
    scripted(["Too short."])
    result = run("write", "story", "x", "--engine", "fake", "--json")
    assert result.exit_code == 3  # type: ignore[attr-defined]
    assert "was saved, but no candidate passed" in result.stderr  # type: ignore[attr-defined]
    assert len(json.loads(run("works", "list", "--json").stdout)) == 1  # type: ignore[attr-defined]


def test_unknown_work_id_is_a_clear_error() -> None:
    result = run("works", "show", "abcdef123456")
    assert result.exit_code == 2 and "no work with id 'abcdef123456'" in result.stderr  # type: ignore[attr-defined]


def test_models_reports_every_engine() -> None:
    rows = json.loads(run("models", "--json").stdout)  # type: ignore[attr-defined]
    assert [r["engine"] for r in rows] == ["llamacpp", "hf", "gpt", "openai", "fake"]
    llamacpp = rows[0]
    assert llamacpp["usable"] and "SmolLM2-135M-Instruct.Q4_1.gguf" in llamacpp["models"][0]


def test_explain_shows_every_candidate_and_the_reason() -> None:
    result = run("write", "story", "a fox", "--engine", "fake", "--n", "3", "--seed", "2", "--explain")
    assert result.exit_code == 0  # type: ignore[attr-defined]
    assert "candidates" in result.stderr and "why: highest rank_score" in result.stderr  # type: ignore[attr-defined]
    assert result.stderr.count("★") == 1  # type: ignore[attr-defined]


def test_a_bad_form_input_is_refused_before_any_model_loads(fabula_home: Path) -> None:
    """The model named does not exist: loading it first would fail on that, not on the input."""
    missing = fabula_home / "missing.gguf"
    args = ["write", "poem", "a pond", "--set", "form=villanelle", "--model", str(missing), "--no-stream"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "villanelle" in result.output and "does not exist" not in result.output
