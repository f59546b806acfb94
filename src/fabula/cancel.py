"""Cancelling a generation from outside it: a client that left, Stop in the studio, Ctrl-C.

A surface runs the generation under `cancellable(event)`; engines and stepped samplers call
`check()` at each step (cheap: a context variable and an Event), and once the event is set the
next step raises `Cancelled`, which unwinds the generation without saving anything. The token
lives in a context variable, so it follows the generation on whatever worker thread runs it and
never leaks between requests.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_token: ContextVar[threading.Event | None] = ContextVar("fabula_cancel", default=None)


class Cancelled(Exception):
    """Raised inside a generation nobody is waiting for any more (not a FabulaError: not a failure)."""


@contextmanager
def cancellable(event: threading.Event) -> Iterator[threading.Event]:
    reset = _token.set(event)
    try:
        yield event
    finally:
        _token.reset(reset)


def check() -> None:
    """Raise Cancelled if the running generation has been cancelled."""
    event = _token.get()
    if event is not None and event.is_set():
        raise Cancelled
