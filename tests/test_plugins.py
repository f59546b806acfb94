"""Plugins as a third party ships them: the example package in examples/ is built and installed
(into a folder of its own, put on the path), listed by `fabula plugins` without being imported,
and its engine, form and exporter used through the CLI; a template TOML in FABULA_HOME/forms is a
form with no code at all."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from fabula import plugins
from fabula.backends import close_all
from fabula.cli.main import cli

EXAMPLE = Path(__file__).parents[1] / "examples" / "fabula-plugin-example"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    target = tmp_path_factory.mktemp("plugins")
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    done = subprocess.run([*pip, "--target", str(target), str(EXAMPLE)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-800:]
    sys.path.insert(0, str(target))
    plugins.refresh()
    yield target
    sys.path.remove(str(target))
    sys.modules.pop("fabula_plugin_example", None)
    plugins.refresh()
    close_all("mirror")


def test_plugins_are_listed_without_being_imported(installed: Path) -> None:
    listed = CliRunner().invoke(cli, ["plugins", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = {(r["kind"], r["name"]): r for r in json.loads(listed.stdout)}
    assert {("engines", "mirror"), ("forms", "fortune"), ("exporters", "html")} <= set(rows)
    assert rows[("engines", "mirror")]["distribution"] == "fabula-plugin-example"
    assert "fabula_plugin_example" not in sys.modules  # listing imports nothing


def test_a_plugins_engine_form_and_exporter_write_and_export_a_work(installed: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(cli, ["write", "fortune", "the quiet sea", "--engine", "mirror", "--json", "--no-stream"])
    assert made.exit_code == 0, made.output
    work = json.loads(made.stdout)
    assert work["form"] == "fortune" and work["provenance"]["engine"] == "mirror"
    assert "sea. quiet the about fortune hopeful" in work["text"]  # the mirror engine: the prompt, reversed
    page = tmp_path / "fortune.html"
    assert runner.invoke(cli, ["works", "export", work["id"], "-o", str(page)]).exit_code == 0
    assert page.read_text(encoding="utf-8").startswith("<!doctype html>")
    wrong = runner.invoke(cli, ["write", "fortune", "x", "--engine", "mirror", "--set", "mood=sleepy"])
    assert wrong.exit_code == 2 and "mood" in wrong.stderr


def test_a_template_in_the_home_folder_is_a_form(fabula_home: Path) -> None:
    (fabula_home / "forms").mkdir(parents=True)
    (fabula_home / "forms" / "toast.toml").write_text(
        'name = "toast"\nversion = 1\ndescription = "A wedding toast."\n'
        '[inputs.couple]\ndefault = "the couple"\n'
        '[prompt]\nsystem = "You write toasts."\nuser = "A toast to {couple}: {prompt}"\n'
        'completion = "A toast to {couple}. {prompt}\\n"\n[checks]\nmin_words = 5\nmax_words = 400\n',
        encoding="utf-8",
    )
    made = CliRunner().invoke(cli, ["write", "toast", "long life", "--engine", "fake", "--json", "--no-stream"])
    assert made.exit_code == 0, made.output
    work = json.loads(made.stdout)
    assert work["form"] == "toast" and "length" in {v["check"] for v in work["candidates"][0]["verdicts"]}
    listed = CliRunner().invoke(cli, ["plugins"])
    assert "toast" in listed.stdout and "FABULA_HOME" in listed.stdout
