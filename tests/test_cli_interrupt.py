"""Ctrl-C stops a generation at once and saves nothing it did not finish (a real process, a real
SIGINT): engines generate in native code while the main thread waits, so this is only true
because the CLI waits where a signal can land."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fabula.store.works import WorkStore


def interrupt_after_output(args: list[str], env: dict[str, str], wait_s: float = 120) -> tuple[int, float, str]:
    """Run `fabula ARGS`, send SIGINT once it has printed (stdout or stderr, besides the engine's
    loading line), and return (exit code, seconds from the signal to the exit, stderr)."""
    with subprocess.Popen(
        [sys.executable, "-m", "fabula.cli.main", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a shell may have ignored it
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        out_fd, err_fd = process.stdout.fileno(), process.stderr.fileno()
        seen = {out_fd: b"", err_fd: b""}
        deadline = time.monotonic() + wait_s
        while sum(len(v) for v in seen.values()) < 60 and time.monotonic() < deadline:
            ready, _, _ = select.select(list(seen), [], [], 0.5)
            for fd in ready:
                seen[fd] += os.read(fd, 200)
        assert any(seen.values()), "nothing was written before the deadline"
        process.send_signal(signal.SIGINT)
        sent = time.monotonic()
        _, err = process.communicate(timeout=30)
        return process.returncode, time.monotonic() - sent, seen[err_fd].decode() + err.decode()


def test_ctrl_c_stops_a_story_within_a_second_and_saves_nothing(fabula_home: Path) -> None:
    env = os.environ | {"FABULA_HOME": str(fabula_home), "FABULA_ENGINE": "fake", "FABULA_MODEL": "slow"}
    code, seconds, err = interrupt_after_output(["write", "story", "a fox", "--max-tokens", "2000"], env)
    assert code == 130 and "interrupted" in err and "Traceback" not in err, err
    assert seconds < 1.0, f"{seconds:.2f} s from Ctrl-C to exit"
    assert WorkStore(f"sqlite:///{fabula_home / 'fabula.db'}").list() == []


@pytest.mark.slow
def test_ctrl_c_stops_the_embedded_model_and_a_plan(fabula_home: Path) -> None:
    env = os.environ | {"FABULA_HOME": str(fabula_home)}
    story = ["write", "story", "a fox", "--max-tokens", "2000"]
    for args in (story, ["write", "screenplay", "A keeper and a smuggler."]):
        code, seconds, err = interrupt_after_output(args, env)
        assert code == 130 and "Traceback" not in err and seconds < 5, (args, code, seconds, err[-500:])
    assert WorkStore(f"sqlite:///{fabula_home / 'fabula.db'}").list() == []
