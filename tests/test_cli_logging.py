"""`-v` says what each step does, `-q` leaves stderr to errors alone; stdout is the result either way."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _fabula(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"FABULA_HOME": str(home), "FABULA_ENGINE": "fake", "PATH": "/usr/bin:/bin", "HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "fabula.cli.main", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_verbose_names_the_steps_and_quiet_prints_only_the_result(tmp_path: Path) -> None:
    write = ["write", "story", "a lantern", "--no-stream", "--json", "--max-tokens", "300"]
    loud = _fabula(tmp_path, "-v", *write)
    assert loud.returncode == 0, loud.stderr
    assert "fabula: INFO: loaded the fake engine" in loud.stderr and "fabula: INFO: saved story" in loud.stderr
    assert "INFO: generated 1 candidate(s) of story with fake" in loud.stderr
    assert "INFO: chose candidate 1 of 1: " in loud.stderr
    assert "INFO: wrote the provenance of " in loud.stderr and "(unsigned)" in loud.stderr
    work_id = json.loads(loud.stdout)["id"]
    exported = _fabula(tmp_path, "-v", "works", "export", work_id, "-o", str(tmp_path / "story.txt"))
    assert exported.returncode == 0, exported.stderr
    assert "INFO: wrote the provenance of story.txt" in exported.stderr
    detail = _fabula(tmp_path, "-vv", *write)
    assert "fabula: DEBUG: saving work" in detail.stderr and "fabula: DEBUG: wrote" in detail.stderr
    human = [a for a in write if a != "--json"]
    plain = _fabula(tmp_path, *human)
    assert "fabula: INFO" not in plain.stderr and "saved" in plain.stderr  # the usual notices, no log
    hushed = _fabula(tmp_path, "-q", *human)
    assert hushed.returncode == 0 and hushed.stderr == ""  # no notice, no progress
    assert len(hushed.stdout.split()) > 30  # the story is all there is
    assert json.loads(_fabula(tmp_path, "-q", *write).stdout)["form"] == "story"
    failing = _fabula(tmp_path, "-q", "works", "show", "zzzzzz999")
    assert failing.returncode == 2 and failing.stderr.startswith("error:")  # errors still speak
