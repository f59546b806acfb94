"""How many threads the engines use: the cores that are not already busy, measured at start-up.

llama.cpp's threads spin while they wait for each other at every step of a token. On an idle
2-core machine two threads nearly double prefill and add about a tenth to decode; on a shared
one, with other work keeping the cores busy (load average 6-18 was seen), two spinning threads
fight that work for the same cores and 2-thread decode fell 15x or more, while one thread kept
most of its speed (benchmarks/README.md, "Threads under contention"). So the default,
`FABULA_THREADS=auto`, is decided once per process from what the machine can give now:

    free = usable cores - cores busy over a short sample of /proc/stat (250 ms)
    threads = round(free), at least 1, at most 8 (small models gain nothing beyond)

The sample is taken while fabula itself is idle (before a model loads), so it counts only the
other work. Where /proc/stat cannot be read, the 1-minute load average stands in for the busy
cores. A number in FABULA_THREADS is used as it is.
"""

from __future__ import annotations

import logging
import os
import time
from functools import lru_cache

LOG = logging.getLogger(__name__)
MOST = 8
SAMPLE_S = 0.25


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _cpu_times() -> tuple[int, int] | None:
    """(busy, total) jiffies over all cores, from the first line of /proc/stat."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = [int(v) for v in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    if len(fields) < 5:
        return None
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])  # guest time is already inside user time
    return total - idle, total


def busy_cores(sample_s: float = SAMPLE_S) -> float:
    """How many cores other work keeps busy now (a fraction of all cores times their number)."""
    cores = os.cpu_count() or 1
    first = _cpu_times()
    if first is not None:
        time.sleep(sample_s)
        second = _cpu_times()
        if second is not None and second[1] > first[1]:
            return cores * (second[0] - first[0]) / (second[1] - first[1])
    try:
        return min(float(cores), os.getloadavg()[0])
    except OSError:  # pragma: no cover - no load average either
        return 0.0


def threads_for(free: float, cores: int) -> int:
    """The policy alone: the free cores, rounded, at least 1, at most `cores` and 8."""
    return max(1, min(cores, MOST, round(free)))


@lru_cache(maxsize=1)
def auto_threads() -> int:
    cores = usable_cores()
    busy = busy_cores()
    chosen = threads_for(cores - busy, cores)
    LOG.info("threads: %d of %d cores (%.1f busy with other work); FABULA_THREADS=N overrides", chosen, cores, busy)
    return chosen


def resolve_threads(setting: int | str) -> int:
    """The thread count for a FABULA_THREADS value: a number as it is, "auto" as measured."""
    return auto_threads() if setting == "auto" else int(setting)
