"""What every live-chat platform connector shares: an outbox sent at the platform's rate.

A connector (IRC in `stream/irc.py`, a polled REST chat in `stream/polled.py`) reads viewers'
messages on a thread of its own and hands each to `on_message`; `say(text)` queues a reply. The
outbox is sent by one more thread: a sliding window holds it to the platform's rate, each reply is
cut at word ends into lines the platform takes (`max_line`, in UTF-8 bytes or in characters), and
a line leaves the outbox only once the platform took it (`_deliver` returned True). A line the
platform refuses for good is set aside in `refused`, so one bad line cannot hold up the rest;
one that failed for now (the connection is down, the server erred) is tried again.
`ready` is set while the connector can deliver (an IRC channel joined, a chat polled).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count

from fabula.stream.live import ChatMessage

LOG = logging.getLogger(__name__)

OnMessage = Callable[[ChatMessage], None]
CONTROLS = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class SendRate:
    """At most `limit` sends in any `per_seconds` window, counted the way a platform counts them
    (Twitch: 20 messages in 30 seconds). A token bucket of the same size would allow up to twice
    that in one window (a full bucket, then its refill) and get the account silenced."""

    limit: int = 20
    per_seconds: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _sent: deque[float] = field(default_factory=deque, init=False)

    def wait_time(self) -> float:
        """Seconds until one more send stays within the limit (0: now)."""
        now = self.clock()
        while self._sent and self._sent[0] <= now - self.per_seconds:
            self._sent.popleft()
        return 0.0 if len(self._sent) < self.limit else self._sent[0] + self.per_seconds - now

    def take(self) -> None:
        self._sent.append(self.clock())


def split_text(text: str, limit: int, measure: Callable[[str], int] = lambda s: len(s.encode("utf-8"))) -> list[str]:
    """Lines of at most `limit` (by `measure`: UTF-8 bytes unless told), cut at spaces where
    possible; a word longer than a line is cut by characters. Line breaks count as spaces and
    other control characters are dropped, so no reply can end a protocol line early (an IRC
    reply holding "\r\nQUIT" would otherwise send a command)."""
    out: list[str] = []
    line = ""
    for word in CONTROLS.sub("", " ".join(text.split())).split(" "):
        candidate = f"{line} {word}" if line else word
        if measure(candidate) <= limit:
            line = candidate
            continue
        if line:
            out.append(line)
        while measure(word) > limit:
            cut = limit
            while measure(word[:cut]) > limit:
                cut -= 1
            out.append(word[:cut])
            word = word[cut:]
        line = word
    if line:
        out.append(line)
    return out


class ChatConnector:
    """The outbox and its sending thread; subclasses read the platform and `_deliver` a line."""

    max_line = 400
    measure: Callable[[str], int] = staticmethod(lambda s: len(s.encode("utf-8")))  # type: ignore[assignment]

    def __init__(self, rate: SendRate | None = None) -> None:
        self.rate = rate or SendRate()
        self.on_message: OnMessage = lambda message: None
        self.outbox: deque[str] = deque()
        self.sent: list[tuple[float, str]] = []  # (monotonic time, line): what the platform took
        self.refused: list[tuple[str, str]] = []  # (line, why): what the platform would never take
        self.connections = 0
        self.ready = threading.Event()
        self.ended: str | None = None  # the platform ended the chat: why
        self._ids = count()  # ChatMessage ids, unique across reconnections
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self, on_message: OnMessage) -> None:
        self.on_message = on_message
        for target, name in ((self._read_forever, "fabula-chat-read"), (self._send_forever, "fabula-chat-send")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def say(self, text: str) -> None:
        """Queue `text` for the chat (cut into lines that fit); sent at the platform's rate."""
        self.outbox.extend(split_text(text, self.max_line, self.measure))
        self._wake.set()

    def pending(self) -> int:
        return len(self.outbox)

    def stop(self, drain_s: float = 5.0) -> None:
        """Send what is queued (for at most `drain_s` seconds), then close."""
        deadline = time.monotonic() + drain_s
        while self.outbox and self.ended is None and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        self._wake.set()
        self._close()
        for thread in self._threads:
            thread.join(timeout=5)

    # ---- for subclasses -------------------------------------------------------------------------

    def _read_forever(self) -> None:
        raise NotImplementedError

    def _deliver(self, line: str) -> bool | str:
        """Send one line: True when the platform took it, False to try again later, or a reason
        the platform will never take it."""
        raise NotImplementedError

    def _close(self) -> None:
        """Let go of the platform (called once, from `stop`)."""

    # ---- sending --------------------------------------------------------------------------------

    def _send_forever(self) -> None:
        while not self._stop.is_set():
            if not self.outbox or not self.ready.is_set():
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            wait = self.rate.wait_time()
            if wait > 0:
                self._stop.wait(wait)
                continue
            line = self.outbox[0]
            outcome = self._deliver(line)
            if outcome is False:
                self._stop.wait(0.2)  # still in the outbox: sent again once the platform is back
                continue
            self.rate.take()
            self.outbox.popleft()
            if outcome is True:
                self.sent.append((time.monotonic(), line))
            else:
                LOG.warning("the chat refused a line (%s): %r", outcome, line[:80])
                self.refused.append((line, str(outcome)))
