"""A rich progress bar over a long job's steps, on stderr; nothing at all when quiet (--json)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

OnStep = Callable[[str, int, int], None]


def _bar(transient: bool = False) -> Any:
    """One look for every bar: the step, the bar, done/total and the time, on stderr."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=Console(stderr=True), transient=transient)


@contextmanager
def progress_bar(quiet: bool, label: str = "writing") -> Iterator[OnStep | None]:
    """Yields `on_step(step, index, total)` to hand to a service (None when quiet, or `fabula -q`)."""
    from fabula.log import quiet as silenced

    if quiet or silenced():
        yield None
        return
    progress = _bar()
    task = progress.add_task(label, total=None)

    def on_step(step: str, index: int, total: int) -> None:
        progress.update(task, description=f"{label} {step}", completed=index, total=total)

    with progress:
        yield on_step


@contextmanager
def token_progress(quiet: bool, label: str, candidates: int, max_tokens: int) -> Iterator[Any]:
    """Yields `on_text(index, delta)` that moves a bar per candidate as its text grows (pieces
    counted, up to max_tokens), for output that is only shown once whole (None when quiet)."""
    from fabula.log import quiet as silenced

    if quiet or silenced():
        yield None
        return
    progress = _bar(transient=True)
    tasks = [
        progress.add_task(f"{label}, candidate {i + 1}/{candidates}" if candidates > 1 else label, total=max_tokens)
        for i in range(candidates)
    ]

    def on_text(index: int, delta: str) -> None:
        if 0 <= index < len(tasks) and delta:
            progress.advance(tasks[index], 1)

    with progress:
        yield on_text
