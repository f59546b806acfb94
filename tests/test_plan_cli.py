"""The long-form surfaces: `fabula write screenplay`, `fabula plan ...` and `fabula bible ...`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from fabula.backends.fake import FakeBackend
from fabula.cli.main import cli
from fabula.plan import fountain
from fabula.settings import get_settings
from tests.conftest import scripted
from tests.test_plan import SCRIPT

LOGLINE = "A lighthouse keeper must choose between the ships and her brother."
# each scene written alone (context=off), so SCRIPT serves the steps one by one without summaries
FAKE = [
    "--engine",
    "fake",
    "--model",
    "scripted",
    "--set",
    "template=kishotenketsu",
    "--set",
    "cast=2",
    "--set",
    "context=off",
]


@pytest.fixture(autouse=True)
def fake() -> FakeBackend:
    """The engine `--engine fake --model scripted` hands the CLI in this test, serving SCRIPT."""
    return scripted(list(SCRIPT), "scripted")  # type: ignore[no-any-return]


def _write(*extra: str) -> dict[str, object]:
    result = CliRunner().invoke(cli, ["write", "screenplay", LOGLINE, *FAKE, "--seed", "7", "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_write_screenplay_exports_fountain_that_screenplain_parses(tmp_path: Path) -> None:
    target = tmp_path / "play.fountain"
    result = CliRunner().invoke(
        cli, ["write", "screenplay", LOGLINE, *FAKE, "--seed", "7", "--export", str(target), "--no-stream"]
    )
    assert result.exit_code == 0, result.output
    report = fountain.check(target.read_text())
    assert report["parsed"] and report["scenes"] == 4 and report["speaking_characters"] == ["MARA", "TOMAS"]
    assert "consistency violations: 0" in result.stderr


def test_json_output_carries_the_fountain_the_checks_and_the_plan() -> None:
    work = _write()
    assert str(work["text"]).startswith("Title: The Last Light")
    checks = work["candidates"][0]["checks"]  # type: ignore[index]
    assert checks["screenplain"]["scenes"] == 4 and checks["consistency"]["ok"]
    steps = work["provenance"]["plan"]["steps"]  # type: ignore[index]
    assert [s["step"] for s in steps][:3] == ["title", "characters", "beats"] and all("seed" in s for s in steps)


def test_plan_commands_show_edit_undo_check_and_export(tmp_path: Path) -> None:
    plan_id = str(_write()["plan_id"])
    run = CliRunner().invoke
    shown = run(cli, ["plan", "show", plan_id[:12], "characters"])
    assert shown.exit_code == 0 and shown.stdout.startswith("Name: Mara\nDescription:")
    fixed = tmp_path / "dialogue.txt"
    fixed.write_text("Action: Rain on the glass.\nMARA: Tomass, stop.\nTOMAS: No.\n")
    edited = run(cli, ["plan", "edit", plan_id, "dialogue[0]", "--file", str(fixed)])
    assert edited.exit_code == 0 and "misspelling of 'Tomas'" in edited.stderr
    checked = run(cli, ["plan", "check", plan_id])
    assert checked.exit_code == 3 and "violation:" in checked.stdout
    assert run(cli, ["plan", "undo", plan_id]).exit_code == 0
    assert run(cli, ["plan", "check", plan_id]).exit_code == 0
    nothing = run(cli, ["plan", "undo", plan_id])
    assert nothing.exit_code == 2 and "nothing to undo" in nothing.stderr
    pdf = tmp_path / "play.pdf"
    assert run(cli, ["plan", "export", plan_id, str(pdf)]).exit_code == 0 and pdf.read_bytes()[:4] == b"%PDF"
    listed = run(cli, ["plan", "list"])
    assert plan_id in listed.stdout and "9/9 steps" in listed.stdout


def test_bible_entries_are_added_listed_and_refused_twice() -> None:
    plan_id = str(_write()["plan_id"])
    run = CliRunner().invoke
    added = run(
        cli,
        ["bible", "add", plan_id, "Lit in 1802, never out since.", "--name", "The lamp", "--keywords", "light,lamp"],
    )
    assert added.exit_code == 0, added.output
    again = run(cli, ["bible", "add", plan_id, "x", "--name", "the lamp"])
    assert again.exit_code == 2 and "already has an entry" in again.stderr
    listed = json.loads(run(cli, ["bible", "list", plan_id, "--json"]).stdout)
    assert [(e["name"], e["source"]) for e in listed][:2] == [("The lamp", "user"), ("Mara", "plan")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--export", "play.docx"], "exports to .fountain, .fdx, .html, .pdf, .json"),
        (["--set", "template=epic"], "beat templates are: three-act"),
        (["--set", "cast=9"], "between 2 and 6"),
        (["--set", "genre=noir"], "takes template=NAME, cast=N and context=on|off"),
        (["--set", "context=maybe"], "context='maybe' is not allowed: on or off"),
    ],
)
def test_bad_screenplay_options_are_refused_before_any_writing(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["write", "screenplay", LOGLINE, "--engine", "fake", *args])
    assert result.exit_code == 2 and message in result.stderr
    assert CliRunner().invoke(cli, ["plan", "list"]).stdout == ""  # no plan was started


def test_a_failed_step_leaves_a_resumable_plan(fake: FakeBackend) -> None:
    fake.scripts = [*SCRIPT[:2], "{broken"]
    result = CliRunner().invoke(cli, ["write", "screenplay", LOGLINE, *FAKE, "--no-stream"])
    assert result.exit_code == 2 and "fabula plan resume" in result.stderr
    plan_id = result.stderr.split("plan ")[1].split()[0]
    fake.scripts = list(SCRIPT[2:])
    resumed = CliRunner().invoke(cli, ["plan", "resume", plan_id, "--json"])
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["candidates"][0]["checks"]["screenplain"]["scenes"] == 4


@pytest.mark.slow
def test_a_screenplay_on_the_default_model_parses_and_holds_together(tmp_path: Path) -> None:
    """The contract command on the embedded model: Fountain that screenplain parses, cast-only speakers."""
    target = tmp_path / "play.fountain"
    result = CliRunner().invoke(
        cli, ["write", "screenplay", LOGLINE, "--seed", "3", "--export", str(target), "--no-stream"]
    )
    assert result.exit_code == 0, result.output
    report = fountain.check(target.read_text())
    assert report["parsed"] and report["scenes"] == 7  # three-act: one scene per beat
    listed = json.loads(CliRunner().invoke(cli, ["works", "list", "--json"]).stdout)
    assert listed[0]["form"] == "screenplay"
    plan_id = result.stderr.split("plan ")[1].split()[0]
    plan = json.loads(CliRunner().invoke(cli, ["plan", "show", plan_id, "--json"]).stdout)
    cast = {c["name"].upper() for c in plan["levels"]["characters"]}
    assert report["speaking_characters"] and set(report["speaking_characters"]) <= cast


@pytest.mark.slow
def test_a_long_story_on_the_default_model_becomes_an_epub(tmp_path: Path) -> None:
    import zipfile

    book = tmp_path / "book.epub"
    args = ["write", "story", "A mapmaker charts an island that appears only at low tide.", "--long"]
    args += ["--set", "template=kishotenketsu", "--set", "cast=2", "--seed", "2", "--export", str(book)]
    result = CliRunner().invoke(cli, [*args, "--no-stream"])
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(book) as epub:
        chapters = [n for n in epub.namelist() if n.startswith("OEBPS/chapter")]
        assert len(chapters) == 4
        assert all(len(epub.read(n).decode().split()) > 60 for n in chapters)  # prose, not a stub


def test_safety_levels_given_on_the_command_line_reach_the_planned_work() -> None:
    levels = "graphic_violence=low,personal_data=off"
    scripted(list(SCRIPT), "scripted", get_settings().model_copy(update={"safety": levels}))  # the run's settings
    work = _write("--safety", levels)
    levels = work["provenance"]["safety"]["levels"]  # type: ignore[index]
    assert levels["graphic_violence"] == "low" and levels["personal_data"] == "off"
