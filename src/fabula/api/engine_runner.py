"""Running an engine from async request handlers: a bounded queue, streaming and cancellation.

Engines are synchronous and produce text through a callback on a worker thread. `EngineGate`
admits at most `max_queue` requests per process (running or waiting); one more is refused at once
with `Busy` (429 with Retry-After) instead of piling up, like Ollama's OLLAMA_MAX_QUEUE.
`stream_completion` turns the callback into an async iterator of deltas; when the consumer stops
(the client disconnected), the next callback raises `Cancelled` inside the engine, which stops
generating and frees its slot.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from typing import Any

from fabula.cancel import Cancelled, cancellable
from fabula.errors import Busy


def busy(waiting: int, retry_after: int) -> Busy:
    return Busy(f"the server is busy ({waiting} requests running or waiting); retry in {retry_after} s", retry_after)


class EngineGate:
    """At most `max_queue` requests in the process, and at most `per_user` of them from one signed-in
    user (half the queue by default): a user's burst is refused with 429 before it can crowd out
    everyone else, so another user's request still finds a place."""

    def __init__(self, max_queue: int, seconds_per_request: float = 5.0, per_user: int | None = None) -> None:
        self.max_queue = max_queue
        self.per_user = per_user or max(1, max_queue // 2)
        self.seconds_per_request = seconds_per_request
        self._count = 0
        self._by_user: dict[str | None, int] = {}
        self._lock = threading.Lock()
        self.executor = ThreadPoolExecutor(max_workers=max(2, max_queue), thread_name_prefix="fabula-engine")

    @property
    def in_use(self) -> int:
        return self._count

    def acquire(self, user: str | None = None) -> None:
        with self._lock:
            mine = self._by_user.get(user, 0)
            # local single-user mode (user None) has the whole queue: there is nobody to crowd out
            if self._count >= self.max_queue or (user is not None and mine >= self.per_user):
                waiting = self._count if self._count >= self.max_queue else mine
                raise busy(waiting, max(1, int(waiting * self.seconds_per_request)))
            self._count += 1
            self._by_user[user] = mine + 1

    def release(self, user: str | None = None) -> None:
        with self._lock:
            self._count -= 1
            left = self._by_user.get(user, 1) - 1
            if left > 0:
                self._by_user[user] = left
            else:
                self._by_user.pop(user, None)

    @contextmanager
    def slot(self, user: str | None = None) -> Iterator[None]:
        self.acquire(user)
        try:
            yield
        finally:
            self.release(user)


async def run_blocking(
    gate: EngineGate,
    work: Callable[[], Any],
    user: str | None = None,
    disconnected: Callable[[], Awaitable[bool]] | None = None,
    poll_s: float = 0.25,
) -> Any:
    """Run `work` on the engine pool, holding a gate slot until it returns.

    With `disconnected` (a request's `is_disconnected`), the client is watched while the work
    runs: once it has gone, the work's cancel token is set, so the engine stops at its next token
    and frees the slot (an abandoned request used to run to its end, 61 s later), and `Cancelled`
    is raised here: nobody is left to answer."""
    gate.acquire(user)
    loop = asyncio.get_running_loop()
    cancel = threading.Event()

    def guarded() -> Any:
        try:
            with cancellable(cancel):
                return work()
        finally:
            gate.release(user)

    future = loop.run_in_executor(gate.executor, guarded)
    if disconnected is None:
        return await future
    while True:
        done, _ = await asyncio.wait({future}, timeout=poll_s)
        if done:
            return future.result()
        if await disconnected():
            cancel.set()
            with suppress(BaseException):
                await future  # stopped within a token; its slot is free when this returns
            raise Cancelled


def admit(gate: EngineGate, user: str | None = None) -> Callable[[], None]:
    """Take a slot now (or raise Busy) and return its release, safe to call more than once.

    A streamed answer is admitted before its 200 is sent: once the status line is out, a refusal
    could only be a cut connection."""
    gate.acquire(user)
    lock = threading.Lock()
    held = [True]

    def release() -> None:
        with lock:
            if held[0]:
                held[0] = False
                gate.release(user)

    return release


async def stream_completion(
    gate: EngineGate,
    work: Callable[[Callable[[str], None]], Any],
    user: str | None = None,
    release: Callable[[], None] | None = None,
) -> AsyncIterator[tuple[str, Any]]:
    """Yield ("delta", text) as the engine writes, then ("done", result) or ("error", exc).

    `work(emit)` runs on the engine pool; `emit` raises Cancelled once the consumer has gone.
    `release` is a slot taken earlier by `admit`; without one a slot is taken here.
    """
    release = release or admit(gate, user)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    cancel = threading.Event()

    def emit(delta: str) -> None:
        if cancel.is_set():
            raise Cancelled
        loop.call_soon_threadsafe(queue.put_nowait, ("delta", delta))

    def run() -> None:
        try:
            with cancellable(cancel):  # stepped samplers check it at every token, between emits too
                result = work(emit)
            loop.call_soon_threadsafe(queue.put_nowait, ("done", result))
        except Cancelled:
            pass
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            if not cancel.is_set():
                loop.call_soon_threadsafe(queue.put_nowait, ("error", exc))
        finally:
            release()

    loop.run_in_executor(gate.executor, run)
    try:
        while True:
            kind, value = await queue.get()
            yield kind, value
            if kind != "delta":
                return
    finally:
        cancel.set()  # the client left (or we finished): stop the engine at its next token
