"""Exports chosen by the file's suffix everywhere: a suffix the work's form has no format for is an
error that writes nothing (it used to write Markdown under any name, exit 0), and a saved work
exports later to every format its form has."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from fabula.cli.main import cli
from fabula.stream.persona import load_persona, read_png_card


def _story() -> str:
    made = CliRunner().invoke(cli, ["write", "story", "a lantern", "--engine", "fake", "--json", "--no-stream"])
    assert made.exit_code == 0, made.output
    return str(json.loads(made.stdout)["id"])


def test_works_export_follows_the_suffix_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    work_id = _story()
    runner = CliRunner()
    bad = runner.invoke(cli, ["works", "export", work_id, "-o", str(tmp_path / "story.ink")])
    assert bad.exit_code == 2 and "story works export as json, markdown, md, txt" in bad.stderr
    assert not (tmp_path / "story.ink").exists()
    assert runner.invoke(cli, ["works", "export", work_id, "-o", str(tmp_path / "story.txt")]).exit_code == 0
    plain = (tmp_path / "story.txt").read_text(encoding="utf-8")
    assert not plain.startswith("#") and "*engine=" not in plain  # text, not the Markdown page
    assert runner.invoke(cli, ["works", "export", work_id, "-o", str(tmp_path / "story.json")]).exit_code == 0
    assert json.loads((tmp_path / "story.json").read_text(encoding="utf-8"))["id"] == work_id
    shown = runner.invoke(cli, ["works", "export", work_id, "--format", "txt"])
    assert shown.exit_code == 0 and shown.stdout.strip() == plain.strip()
    assert runner.invoke(cli, ["works", "export", work_id, "--format", "yarn"]).exit_code == 2


def test_persona_export_writes_the_format_its_suffix_names(tmp_path: Path) -> None:
    card = tmp_path / "mira.yaml"
    card.write_text(
        "name: Mira\nsystem_prompt: You are Mira, a lighthouse keeper.\nstyle: dry and kind\n", encoding="utf-8"
    )
    runner = CliRunner()
    assert runner.invoke(cli, ["persona", "export", str(card), "-o", str(tmp_path / "mira.png")]).exit_code == 0
    png = (tmp_path / "mira.png").read_bytes()
    assert png.startswith(b"\x89PNG") and read_png_card(png)["data"]["name"] == "Mira"
    assert load_persona(tmp_path / "mira.png") == load_persona(card)  # the round trip keeps everything
    from PIL import Image

    with Image.open(tmp_path / "mira.png") as image:  # an image Pillow (and SillyTavern) opens
        assert image.size == (400, 600)
    assert runner.invoke(cli, ["persona", "export", str(card), "-o", str(tmp_path / "mira.json")]).exit_code == 0
    assert json.loads((tmp_path / "mira.json").read_text(encoding="utf-8"))["spec"] == "chara_card_v2"
    bad = runner.invoke(cli, ["persona", "export", str(card), "-o", str(tmp_path / "mira.docx")])
    assert bad.exit_code == 2 and "mira.docx" in bad.stderr and not (tmp_path / "mira.docx").exists()
