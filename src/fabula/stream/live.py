"""Live chat: audience messages in, moderated, de-duplicated, prioritised, batched, answered in
persona within a bounded time.

Every message gets exactly one verdict:
- `blocked`: the safety policy refused it (it never reaches a prompt, and the character does not
  learn from it);
- `duplicate`: the same words (case, spacing and punctuation aside) arrived in the last
  `dedupe_window_s` seconds; `rate_limited`: the viewer sent more than `per_viewer` messages in
  10 seconds;
- `answered`: it was in a batch the character replied to;
- `skipped`: it waited longer than `max_wait_s` without being picked (others ranked higher), so
  every reply is to something said recently and latency stays bounded; never a donation;
- `dropped`: the queue was full (`queue_limit`) and it ranked lowest: memory stays bounded; never
  a donation while anything else can go.

Ranking: a donation first, then a mention of the character's name, then a question, then a
regular viewer (or one with a subscriber, vip, moderator or founder badge); ties go to the
oldest. A batch is up to `max_batch` messages answered in one reply.
A message that gives the character orders (`injection.gives_orders`) is a batch of its own and
is answered with the character's deflection, never by the model, so it can neither be obeyed nor
touch the reply another viewer gets. A reply that recites the character's memory of viewers is
not spoken.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from fabula.sampling import SamplingParams
from fabula.stream.injection import deflection, gives_orders
from fabula.stream.memory import StreamMemory
from fabula.stream.persona import Persona
from fabula.stream.prompting import Incoming, assemble, leaks, recites
from fabula.types import Request

# A live audience is public: chat is held to stricter levels than fiction (threats and hate at
# "low"), whatever looser levels FABULA_SAFETY sets for writing.
LOG = logging.getLogger(__name__)


AUDIENCE_LEVELS = "hate=low,threats=low,doxxing=low,sexual_explicit=low,self_harm=low,personal_data=medium"
QUESTION = re.compile(r"\?|^\s*(who|what|when|where|why|how|do|does|did|can|could|would|will|is|are)\b", re.I)
FALLBACK = "Ooh, let's move on to the next one!"
SUPPORTER_BADGES = {"subscriber", "vip", "moderator", "founder"}  # ranked like a regular viewer


@dataclass
class ChatMessage:
    id: int
    user: str
    text: str
    donation: float = 0.0
    arrived: float = 0.0  # monotonic seconds
    priority: float = 0.0
    regular: bool = False  # looked up once, at intake
    orders: str | None = None  # the words that make it an order to the character, found at intake
    badges: tuple[str, ...] = ()  # the platform's badges (IRCv3 `badges`: subscriber, moderator, vip ...)


@dataclass
class Outcome:
    message: ChatMessage
    verdict: str
    reply: str | None = None
    reason: str | None = None
    latency_s: float | None = None
    batch: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.message.id,
            "user": self.message.user,
            "message": self.message.text,
            "verdict": self.verdict,
            "reply": self.reply,
        }
        if self.reason:
            out["reason"] = self.reason
        if self.latency_s is not None:
            out["latency_s"] = round(self.latency_s, 3)
        if self.batch is not None:
            out["batch"] = self.batch
        return out


def audience_policy(levels: str = "") -> Any:
    from fabula.responsible.safety import SafetyPolicy

    return SafetyPolicy.parse(",".join(x for x in (levels, AUDIENCE_LEVELS) if x))


def clean_reply(text: str, name: str) -> str:
    """What is spoken: the first paragraph, without a "Name:" prefix or a continued chat log, at
    most three sentences (a 135M model rambles on and starts writing the next turn itself)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    first = lines[0] if lines else ""
    first = re.sub(rf"^\s*{re.escape(name)}\s*:\s*", "", first, flags=re.I)
    first = re.split(r"‹|<|\[\d+\]|\bviewer \"", first)[0].strip()
    sentences = re.findall(r"[^.!?]+[.!?]+[\"')]*|[^.!?]+$", first)
    return " ".join(s.strip() for s in sentences[:3]).strip()


def dedupe_key(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


@dataclass
class LiveChat:
    persona: Persona
    backend: Any
    policy: Any  # SafetyPolicy
    memory: StreamMemory | None = None
    params: SamplingParams = field(default_factory=lambda: SamplingParams(temperature=0.8, top_p=0.95, max_tokens=80))
    max_batch: int = 3
    max_wait_s: float = 20.0
    queue_limit: int = 200
    dedupe_window_s: float = 60.0
    per_viewer: int = 4
    secrets: tuple[str, ...] = ()  # strings a reply must never contain (a canary in tests)
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[ChatMessage] = []
        self._recent: deque[tuple[float, str]] = deque()  # (time, dedupe key), pruned to the window
        self._recent_keys: dict[str, int] = {}
        self._by_viewer: dict[str, deque[float]] = {}
        self.prompts: deque[list[dict[str, str]]] = deque(maxlen=50)  # the last prompts sent: an audit
        self.batches = 0

    # ---- intake -----------------------------------------------------------------------------------

    def intake(self, message: ChatMessage) -> Outcome | None:
        """Moderate and queue one message; an outcome now if it is not queued (or pushed another out)."""
        now = self.clock()
        message.arrived = message.arrived or now
        verdict = self.policy.check(f"{message.user}: {message.text}", "prompt")
        if verdict["blocked"]:
            LOG.info("blocked a message from %s: %s", message.user, ", ".join(verdict["categories"]))
            return Outcome(message, "blocked", reason=", ".join(verdict["categories"]))
        message.regular = self.memory is not None and self.memory.is_regular(message.user)
        message.orders = gives_orders(message.text) or gives_orders(message.user)
        with self._lock:
            self._prune(now)
            key = dedupe_key(message.text)
            if key and self._recent_keys.get(key):
                return Outcome(message, "duplicate", reason="the same words were just said")
            times = self._by_viewer.setdefault(message.user, deque())
            while times and now - times[0] > 10.0:
                times.popleft()
            if len(times) >= self.per_viewer:
                return Outcome(message, "rate_limited", reason=f"more than {self.per_viewer} messages in 10 s")
            times.append(now)
            if key:
                self._recent.append((now, key))
                self._recent_keys[key] = self._recent_keys.get(key, 0) + 1
            message.priority = self._priority(message)
            self._queue.append(message)
            if len(self._queue) > self.queue_limit:
                lowest = min(self._queue, key=lambda m: (m.donation > 0, m.priority, -m.arrived))
                self._queue.remove(lowest)
                return Outcome(lowest, "dropped", reason="the queue was full and it ranked lowest")
        if self.memory is not None:
            self.memory.note_message(message.user, message.text, message.donation)
        return None

    def _prune(self, now: float) -> None:
        while self._recent and now - self._recent[0][0] > self.dedupe_window_s:
            _, key = self._recent.popleft()
            self._recent_keys[key] -= 1
            if not self._recent_keys[key]:
                del self._recent_keys[key]
        for user in [u for u, t in self._by_viewer.items() if not t or now - t[-1] > 10.0]:
            del self._by_viewer[user]

    def _priority(self, message: ChatMessage) -> float:
        score = 0.0
        if message.donation > 0:
            score += 100 + min(message.donation, 100)
        if self.persona.name.casefold() in message.text.casefold():
            score += 20
        if QUESTION.search(message.text):
            score += 10
        if message.regular or SUPPORTER_BADGES & set(message.badges):
            score += 5
        return score

    # ---- picking and answering -----------------------------------------------------------------

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def next_batch(self) -> tuple[list[ChatMessage], list[Outcome]]:
        """The best messages to answer now, and the outcomes of those that waited too long."""
        now = self.clock()
        with self._lock:
            stale = [m for m in self._queue if now - m.arrived > self.max_wait_s and not m.donation]
            expired = set(map(id, stale))
            self._queue = [m for m in self._queue if id(m) not in expired]
            self._queue.sort(key=lambda m: (-m.priority, m.arrived))
            batch = self._pick()
            picked = set(map(id, batch))
            self._queue = [m for m in self._queue if id(m) not in picked]
        skipped = [Outcome(m, "skipped", reason=f"not picked within {self.max_wait_s:g} s") for m in stale]
        return batch, skipped

    def end(self, why: str = "the stream ended first") -> list[Outcome]:
        """Close the queue: whatever still waits is skipped, so every message has its verdict."""
        with self._lock:
            left, self._queue = self._queue, []
        return [Outcome(m, "skipped", reason=why) for m in left]

    def _pick(self) -> list[ChatMessage]:
        """The first `max_batch` of the ranked queue, except that an order goes alone."""
        if self._queue and self._queue[0].orders:
            return self._queue[:1]
        return [m for m in self._queue if not m.orders][: self.max_batch]

    def answer(self, batch: list[ChatMessage]) -> list[Outcome]:
        """One reply to the whole batch, checked before it is spoken."""
        self.batches += 1
        if len(batch) == 1 and batch[0].orders:  # never in a prompt, so never obeyed
            said = deflection(self.persona.name, batch[0].user, self.persona.catchphrases)
            LOG.info("batch %d: an order to the character (%r) deflected", self.batches, batch[0].orders)
            why = f"an order to the character ({batch[0].orders}): deflected, not sent to the model"
            return [Outcome(batch[0], "answered", said, why, self.clock() - batch[0].arrived, self.batches)]
        incoming = [Incoming(m.user, m.text, m.donation, m.regular) for m in batch]
        memories = self.memory.recall([m.user for m in batch], " ".join(m.text for m in batch)) if self.memory else []
        messages = assemble(self.persona, incoming, memories)
        self.prompts.append([{"role": m.role, "content": m.content} for m in messages])
        request = Request(messages, messages[-1].content, self.params.with_(n=1))
        reply = clean_reply(self.backend.complete(request)[0].text, self.persona.name)
        reason = None
        if not reply:
            reply, reason = FALLBACK, "the engine said nothing"
        elif self.policy.check(reply, "output")["blocked"]:
            reply, reason = FALLBACK, "the reply was blocked by the safety policy"
        elif leaks(reply, self.persona, self.secrets):
            reply, reason = FALLBACK, "the reply repeated the character's instructions"
        elif recites(reply, memories):
            reply, reason = FALLBACK, "the reply recited the character's memory of viewers"
        done = self.clock()
        LOG.info(
            "batch %d: one reply to %d message(s)%s",
            self.batches,
            len(batch),
            f" (fallback: {reason})" if reason else "",
        )
        return [Outcome(m, "answered", reply, reason, done - m.arrived, self.batches) for m in batch]


def replay(chat: LiveChat, messages: Iterable[ChatMessage], rate: float, on_outcome: Callable[[Outcome], None]) -> None:
    """Feed `messages` at `rate` per second (0: all at once) while answering, until all have a verdict."""
    items = list(messages)
    fed = threading.Event()

    def feed() -> None:
        start = time.monotonic()
        for i, message in enumerate(items):
            if rate > 0:
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            message.arrived = time.monotonic()
            outcome = chat.intake(message)
            if outcome is not None:
                on_outcome(outcome)
        fed.set()

    feeder = threading.Thread(target=feed, name="fabula-chat-feed", daemon=True)
    feeder.start()
    while not fed.is_set() or chat.waiting:
        batch, skipped = chat.next_batch()
        for outcome in skipped:
            on_outcome(outcome)
        if batch:
            for outcome in chat.answer(batch):
                on_outcome(outcome)
        else:
            time.sleep(0.02)
    feeder.join()
