"""Ctrl-C that stops a generation at once, and saves nothing it did not finish.

llama.cpp generates inside C++ while the main thread waits on it, and Python runs a signal handler
only when the main thread runs Python again: a Ctrl-C would be noticed only after the whole text
was written (and saved). So the CLI runs a long call on a worker thread under a cancel token
(`fabula.cancel`), and the main thread waits in short joins, where Ctrl-C lands at once: it sets
the token, and the generation stops at its next token, raising before anything is saved.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from fabula.cancel import Cancelled, cancellable

T = TypeVar("T")
GRACE_S = 5.0  # how long a cancelled generation may take to reach its next token


def interruptible(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`call(*args, **kwargs)` on a worker thread; Ctrl-C cancels it and raises KeyboardInterrupt."""
    stop = threading.Event()
    outcome: dict[str, Any] = {}
    context = contextvars.copy_context()

    def run() -> None:
        def guarded() -> None:
            with cancellable(stop):
                outcome["value"] = call(*args, **kwargs)

        try:
            context.run(guarded)
        except BaseException as exc:  # noqa: BLE001 - handed back to the main thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="fabula-cli-work", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.1)
    except KeyboardInterrupt:
        stop.set()
        worker.join(GRACE_S)
        raise
    error = outcome.get("error")
    if isinstance(error, Cancelled):
        raise KeyboardInterrupt from error
    if error is not None:
        raise error
    return outcome["value"]  # type: ignore[no-any-return]
