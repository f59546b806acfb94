"""The thread policy: the cores other work leaves free, measured from the machine itself (a real
CPU burner in a second process makes a core busy), a number in FABULA_THREADS used as it is."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from fabula.settings import Settings
from fabula.threads import busy_cores, resolve_threads, threads_for, usable_cores

BURN = "import time\nend = time.time() + 30\nwhile time.time() < end: pass\n"


@pytest.fixture
def burner() -> Iterator[None]:
    """One process keeping one core busy, as another user's job on a shared machine would."""
    proc = subprocess.Popen([sys.executable, "-c", BURN])
    try:
        yield
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize(
    ("free", "cores", "threads"),
    [(2.0, 2, 2), (1.6, 2, 2), (1.2, 2, 1), (0.2, 2, 1), (-3.0, 2, 1), (15.0, 16, 8), (3.4, 4, 3)],
)
def test_the_policy_takes_the_free_cores_rounded_between_one_and_eight(free: float, cores: int, threads: int) -> None:
    assert threads_for(free, cores) == threads


def test_a_busy_core_is_seen_by_the_sample(burner: None) -> None:
    assert busy_cores(0.5) >= 0.7  # the burner alone keeps a whole core busy


def test_a_number_is_used_as_it_is_and_auto_is_measured() -> None:
    assert resolve_threads(3) == 3
    assert Settings(threads=5).engine_threads() == 5
    assert 1 <= resolve_threads("auto") <= min(usable_cores(), 8)
    assert Settings.model_fields["threads"].default == "auto"


@pytest.mark.parametrize("bad", ["abc", "0", "257", "-2", "2.5", ""])
def test_a_bad_thread_count_names_both_kinds_of_good_value(bad: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=r"a number of threads from 1 to 256, or auto"):
        Settings(threads=bad)


def test_thread_counts_are_read_from_text_as_the_environment_gives_them() -> None:
    assert Settings(threads=" Auto ").threads == "auto"
    assert Settings(threads="3").threads == 3
