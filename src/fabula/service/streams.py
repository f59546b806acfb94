"""The virtual streamer's services: a live session that remembers its stream, a replayed chat,
spoken replies, and timed show scripts.

A `LiveSession` is what the WebSocket and `fabula stream simulate` both run: the chat (moderation,
de-duplication, ranking, batching), the character's memory for this owner, and every outcome, so
that when the session closes the stream is summarised into memory from the answered messages
(as data, never from the model), whichever surface ran it.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fabula.errors import InvalidParam
from fabula.sampling import SamplingParams
from fabula.settings import Settings
from fabula.stream.connector import ChatConnector
from fabula.stream.live import ChatMessage, LiveChat, Outcome, audience_policy, replay
from fabula.stream.memory import StreamMemory, topic_words
from fabula.stream.persona import Persona


class LiveSession:
    """One live stream of `character` for `owner` (None: local mode)."""

    def __init__(
        self,
        character: Persona,
        backend: Any,
        settings: Settings,
        owner: str | None = None,
        *,
        db: Any = None,
        params: SamplingParams | None = None,
        max_batch: int = 3,
        max_wait: float = 20.0,
        remember: bool = True,
    ) -> None:
        self.character = character
        self.memory = StreamMemory(db or settings.db_url, character.name, owner) if remember else None
        params = params or SamplingParams(temperature=0.8, top_p=0.95, max_tokens=80)
        self.chat = LiveChat(
            character, backend, audience_policy(settings.safety), self.memory, params, max_batch, max_wait
        )
        self.outcomes: dict[int, Outcome] = {}
        self.started = time.monotonic()
        self.closed = False

    def record(self, outcome: Outcome) -> None:
        self.outcomes[outcome.message.id] = outcome

    def close(self) -> str | None:
        """End the stream: its summary goes into memory (once). Returns the summary, if any."""
        if self.closed:
            return None
        self.closed = True
        if self.memory is None:
            return None
        return remember_stream(self.memory, [o.to_dict() for o in self.outcomes.values()])


def remember_stream(memory: StreamMemory, replies: list[dict[str, Any]]) -> str | None:
    """A summary of this stream for the next one, from the answered messages (as data)."""
    answered = [r for r in replies if r["verdict"] == "answered"]
    if not answered:
        return None
    topics = Counter(w for r in answered for w in topic_words(r["message"])).most_common(8)
    viewers = Counter(r["user"] for r in answered).most_common(5)
    text = (
        f"A stream where chat talked about {', '.join(w for w, _ in topics) or 'many things'}; "
        f"most active: {', '.join(v for v, _ in viewers)}; {len(answered)} messages answered."
    )
    memory.remember_stream(text, {"topics": dict(topics), "viewers": dict(viewers), "answered": len(answered)})
    return text


def simulate(
    session: LiveSession,
    rows: list[dict[str, Any]],
    rate: float,
    on_outcome: Callable[[Outcome], None] | None = None,
    speak_dir: Path | None = None,
) -> dict[str, Any]:
    """Replay chat `rows` ({user, text, donation}) at `rate` a second; every message gets exactly
    one verdict. Returns `{"replies": [...], "summary": {...}}`; the stream is remembered."""
    if speak_dir is not None:
        from fabula.stream.speech import find_espeak

        find_espeak()  # say so before the replay, not after it
    messages = [ChatMessage(i, r["user"], r["text"], r["donation"]) for i, r in enumerate(rows)]

    def record(outcome: Outcome) -> None:
        session.record(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    replay(session.chat, messages, rate, record)
    seconds = time.monotonic() - session.started
    replies = [session.outcomes[m.id].to_dict() for m in messages]
    if speak_dir is not None:
        speak_replies(replies, session.character, speak_dir)
    session.close()
    return {"replies": replies, "summary": summarize(replies, seconds, session.chat.batches)}


def run_live(
    session: LiveSession,
    chat: ChatConnector,
    max_seconds: float,
    *,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> dict[str, Any]:
    """The character live in a platform's chat (`chat`: IRC, which Twitch speaks, or a polled REST
    chat such as YouTube's) for `max_seconds`, or until the platform ends the chat.

    Every viewer message gets exactly one verdict, as in `simulate`; a reply is said in the chat
    addressed to the viewers it answers (`@ana @ben ...`), at the connector's rate. Messages still
    queued at the end are skipped. Returns the replies, the summary, and the connection's facts
    (connections made, lines sent, refused and left unsent, and why the chat ended if it did)."""
    messages: list[ChatMessage] = []

    def record(outcome: Outcome) -> None:
        session.record(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    gate = threading.Lock()  # a message heard as the stream ends is queued before the end, or skipped
    ended = False

    def heard(message: ChatMessage) -> None:
        message.arrived = time.monotonic()
        with gate:
            messages.append(message)
            if ended:
                outcome: Outcome | None = Outcome(message, "skipped", reason="the stream ended first")
            else:
                outcome = session.chat.intake(message)
        if outcome is not None:
            record(outcome)

    chat.start(heard)
    deadline = time.monotonic() + max_seconds
    try:
        while time.monotonic() < deadline and chat.ended is None:
            batch, skipped = session.chat.next_batch()
            for outcome in skipped:
                record(outcome)
            if not batch:
                time.sleep(0.02)
                continue
            outcomes = session.chat.answer(batch)
            for outcome in outcomes:
                record(outcome)
            viewers = " ".join(dict.fromkeys(f"@{m.user}" for m in batch))
            chat.say(f"{viewers} {outcomes[0].reply}")
        with gate:
            ended = True
            left = session.chat.end()
        for outcome in left:
            record(outcome)
    finally:
        chat.stop()
        session.close()
    replies = [session.outcomes[m.id].to_dict() for m in messages if m.id in session.outcomes]
    summary = summarize(replies, time.monotonic() - session.started, session.chat.batches)
    summary |= {
        "messages_heard": len(messages),  # equal to "messages": every one heard has its verdict
        "connections": chat.connections,
        "lines_sent": len(chat.sent),
        "lines_refused": len(chat.refused),
        "lines_unsent": chat.pending(),
        **({"chat_ended": chat.ended} if chat.ended else {}),
    }
    return {"replies": replies, "summary": summary}


def speak_replies(replies: list[dict[str, Any]], character: Persona, folder: Path) -> None:
    """One WAV per reply (a batch's reply once), on a timeline: each starts when the last ends."""
    from fabula.stream.speech import speak

    clock = 0.0
    spoken: dict[int, dict[str, Any]] = {}
    for row in replies:
        if row["verdict"] != "answered":
            continue
        batch = row["batch"]
        if batch not in spoken:
            path = folder / f"reply_{batch:04d}.wav"
            seconds = speak(row["reply"], path, character.voice, character.rate_wpm)
            spoken[batch] = {"file": str(path), "start_s": round(clock, 2), "seconds": round(seconds, 2)}
            clock += seconds
        row["audio"] = spoken[batch]


def summarize(replies: list[dict[str, Any]], seconds: float, batches: int) -> dict[str, Any]:
    latencies = sorted(r["latency_s"] for r in replies if r["verdict"] == "answered")
    p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] if latencies else None
    return {
        "messages": len(replies),
        "verdicts": dict(Counter(r["verdict"] for r in replies)),
        "batches": batches,
        "latency_p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "latency_p95_s": p95,
        "seconds": round(seconds, 1),
    }


SCRIPT_EXPORTS = (".json", ".txt")


def check_script_export(export_file: Path | None) -> None:
    if export_file is not None and export_file.suffix not in SCRIPT_EXPORTS:
        raise InvalidParam(
            "export", str(export_file), "a script exports as .json (segments and timings) or .txt (teleprompter)"
        )


def write_stream_script(
    character: Persona,
    topic: str,
    minutes: int,
    backend: Any,
    engine_name: str,
    params: SamplingParams,
    settings: Settings,
    export_file: Path | None = None,
    on_step: Callable[[str, int, int], None] | None = None,
    owner: str | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Plan, write and time a show script; save it as a work (and export it). Returns (work, script)."""
    import json

    from fabula.files import write_atomic
    from fabula.responsible.review import export_manifest, review_and_save
    from fabula.store.works import WorkStore
    from fabula.stream.script import script_work, teleprompter, write_script

    check_script_export(export_file)
    store = WorkStore(settings.db_url)
    params = params.with_(max_tokens=min(params.max_tokens, 200))
    script = write_script(backend, character, topic, minutes, params, on_step)
    info = {**backend.model_info(), "engine": engine_name}
    work = review_and_save(script_work(script, character, info, params), settings, store, owner=owner)
    if export_file is not None:
        body = json.dumps(script, ensure_ascii=False, indent=1) + "\n" if export_file.suffix == ".json" else None
        write_atomic(export_file, body if body is not None else teleprompter(script))
        export_manifest(store.get(work.id), export_file, settings)
    return work, script
