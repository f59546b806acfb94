"""Retries with an Idempotency-Key, as concurrent clients send them.

A client that timed out sends the same request again with the same key, often while the first is
still being written. Without care both would write, and the second save would hit the key's
unique row (a 500 in 10 of 10 rounds before this). `KeyLocks` holds one lock per (owner, key) in
the process: the second request waits for the first and is then answered with the work the first
saved, as a stream if it asked for one. Across processes the store's unique row decides, and the
loser gets a 409 that a retry turns into the saved work.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any


class KeyLocks:
    def __init__(self) -> None:
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._users: dict[tuple[str, str], int] = {}

    async def acquire(self, owner: str | None, key: str) -> Callable[[], None]:
        """Wait for the key to be free, take it, and return its release: safe to call twice and
        from any thread (a stream's engine thread releases it when the work is saved)."""
        name = (owner or "", key)
        lock = self._locks.setdefault(name, asyncio.Lock())
        self._users[name] = self._users.get(name, 0) + 1
        try:
            await lock.acquire()
        except BaseException:
            self._forget(name)
            raise
        loop = asyncio.get_running_loop()
        guard = threading.Lock()
        held = [True]

        def free() -> None:
            lock.release()
            self._forget(name)

        def release() -> None:
            with guard:
                if not held[0]:
                    return
                held[0] = False
            loop.call_soon_threadsafe(free)

        return release

    def _forget(self, name: tuple[str, str]) -> None:
        self._users[name] -= 1
        if self._users[name] == 0:  # nobody holds or waits: the table does not grow with every key
            del self._users[name], self._locks[name]


def fingerprint_body(route: str, data: dict[str, Any]) -> dict[str, Any]:
    """What a request asked for, without how it wants the answer delivered."""
    return {"route": route} | {k: v for k, v in data.items() if k not in ("stream", "stream_options")}
