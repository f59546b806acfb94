"""A full disk as the server meets it: a real `fabula serve` whose FABULA_HOME is a small
filesystem made by the test. Every save is answered 201 or 507 (never a bare 500 or a reset), no
temporary file is left, and every acknowledged work is intact once space returns."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fabula.errors import OutOfSpace
from fabula.files import write_atomic
from tests.test_api import serve


def _mount(where: Path, size: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    return done.returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    if not _mount(disk, "3m"):
        pytest.skip("making a small filesystem needs root (mount -t tmpfs)")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp") or ".tmp." in p.name]


def test_a_full_disk_is_a_clear_error_and_leaves_no_temporary_file(small_disk: Path) -> None:
    with pytest.raises(OutOfSpace, match="is full"):
        write_atomic(small_disk / "big.txt", "x" * 4 * 1024 * 1024)
    assert not (small_disk / "big.txt").exists() and leftovers(small_disk) == []


def test_saves_on_a_full_disk_are_201_or_507_and_nothing_acknowledged_is_lost(small_disk: Path, tmp_path: Path) -> None:
    script = tmp_path / "engine.json"  # a fake engine that writes long works, outside the small disk
    prose = " ".join(f"word{i % 500} of the long sea," for i in range(2500))
    script.write_text(json.dumps({"scripts": [prose]}), encoding="utf-8")
    home = small_disk / "home"
    acknowledged: dict[str, str] = {}
    statuses = []
    for base in serve(home, {"FABULA_ENGINE": "fake", "FABULA_MODEL": str(script)}):
        with httpx.Client(base_url=base, timeout=60) as client:
            for i in range(40):
                body = {"form": "story", "prompt": f"the sea, take {i}", "sampling": {"max_tokens": 4000, "seed": i}}
                reply = client.post("/api/works", json=body, headers={"Idempotency-Key": f"save-{i}"})
                statuses.append(reply.status_code)
                if reply.status_code == 201:
                    acknowledged[reply.json()["id"]] = reply.json()["text"]
                else:
                    error = reply.json()["error"]
                    assert reply.status_code == 507 and error["type"] == "insufficient_storage", reply.text
                    assert "full" in error["message"]
            assert client.get("/healthz").status_code == 200  # the process stayed up
        assert 507 in statuses and 201 in statuses, statuses
        assert leftovers(home) == []
        subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)  # space returns
        with httpx.Client(base_url=base, timeout=60) as client:
            for work_id, text in acknowledged.items():
                reply = client.get(f"/api/works/{work_id}")
                assert reply.status_code == 200 and reply.json()["text"] == text
            again = client.post("/api/works", json={"form": "story", "prompt": "after", "sampling": {"max_tokens": 50}})
            assert again.status_code == 201
