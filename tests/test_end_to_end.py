"""`fabula write` end to end on the embedded default model, through the installed console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FABULA = shutil.which("fabula", path=str(Path(sys.executable).parent)) or "fabula"


def fabula(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FABULA_HOME": str(home), "FABULA_THREADS": "2"}
    return subprocess.run([FABULA, *args], capture_output=True, text=True, env=env, timeout=300)


def test_write_story_streams_saves_and_reports(fabula_home: Path) -> None:
    result = fabula(
        fabula_home, "write", "story", "a clockmaker who can hear time", "--seed", "7", "--max-tokens", "120"
    )
    assert result.returncode in (0, 3), result.stderr
    assert "saved work" in result.stderr and "provenance: engine=llamacpp" in result.stderr
    assert "SmolLM2-135M-Instruct.Q4_1.gguf" in result.stderr
    assert len(result.stdout.split()) > 30
    exports = list((fabula_home / "works").glob("*.md"))
    assert len(exports) == 1 and "engine=llamacpp" in exports[0].read_text()


def test_write_json_is_reproducible_by_seed(fabula_home: Path) -> None:
    args = ("write", "poem", "the first snow", "--seed", "3", "--max-tokens", "60", "--json")
    first = json.loads(fabula(fabula_home, *args).stdout)
    second = json.loads(fabula(fabula_home, *args).stdout)
    assert first["text"] and first["text"] == second["text"]
    assert first["id"] != second["id"]
    prov = first["provenance"]
    assert prov["engine"] == "llamacpp" and prov["seed"] == 3 and prov["template"] == "poem@3"
    assert prov["model"]["sha256"] and prov["params"]["max_tokens"] == 60
    listed = json.loads(fabula(fabula_home, "works", "list", "--json").stdout)
    assert {row["id"] for row in listed} == {first["id"], second["id"]}


@pytest.mark.slow
def test_hf_engine_on_embedded_model_is_deterministic_and_sensible(fabula_home: Path) -> None:
    args = (
        "write",
        "story",
        "a fox who collects keys",
        "--engine",
        "hf",
        "--seed",
        "5",
        "--max-tokens",
        "48",
        "--json",
    )
    first = fabula(fabula_home, *args)
    assert first.returncode in (0, 3), first.stderr
    second = fabula(fabula_home, *args)  # second run loads the cached conversion
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    assert a["text"] == b["text"] and len(a["text"].split()) > 15
    assert a["provenance"]["engine"] == "hf"
    assert a["provenance"]["model"]["name"] == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert list((fabula_home / "cache" / "converted").iterdir())
