"""/api/stream/ws: live chat over a WebSocket, answered by a persona.

Connect to `/api/stream/ws?persona=NAME` (a card imported with `fabula persona import`; with users,
add `&key=KEY`, since browsers cannot set headers on a WebSocket). Send frames
`{"user": "mira", "text": "hi!", "donation": 0}`; receive `{"type": "verdict", "id", "verdict",
"reason"}` for a message that will not be answered (blocked, duplicate, rate limited, dropped,
skipped, failed) and `{"type": "reply", "ids": [...], "text", "latency_s"}` when the character
answers. A bad frame gets `{"type": "error", "message"}` and the connection stays open. Replies are
written on the engine gate like any request, one batch at a time per connection: a full gate
(`{"type": "busy", "retry_after"}`) delays a batch, it never drops it, and an engine failure is
reported for the batch and the loop goes on. When the socket closes, the stream is remembered.

The key is checked before the upgrade is accepted: a missing or unknown key never gets an open
socket (close code 4401 on the handshake); an unknown persona is explained in a frame, then closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from functools import partial
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from fabula.errors import Busy, FabulaError, InvalidParam, NotFound, Unauthorized

router = APIRouter(prefix="/api/stream")
CLOSE_CODES = {Unauthorized: 4401, NotFound: 4404}


def close_code(exc: BaseException) -> int:
    return next((code for kind, code in CLOSE_CODES.items() if isinstance(exc, kind)), 4400)


@router.websocket("/ws")
async def live_chat(socket: WebSocket, persona: str = "", key: str = "") -> None:
    from fabula.service.personas import PersonaStore
    from fabula.service.streams import LiveSession
    from fabula.store.users import user_for

    state = socket.app.state.fabula
    try:
        header = socket.headers.get("authorization") or (f"Bearer {key}" if key else None)
        owner = await asyncio.to_thread(user_for, state.db, header)
        character = PersonaStore(state.settings.ensure_home()).load(persona)
        backend = await state.backend()
    except Unauthorized:
        await socket.close(code=4401)  # before the upgrade: no open socket without a key
        return
    except FabulaError as exc:
        await socket.accept()  # to say why in a frame a browser can read, then close
        await socket.send_json({"type": "error", "message": str(exc)})
        await socket.close(code=close_code(exc))
        return
    await socket.accept()
    session = LiveSession(character, backend, state.settings, owner, db=state.db)
    done = asyncio.Event()
    answering = asyncio.create_task(_answer_loop(socket, session, state, owner, done))
    try:
        await _read_loop(socket, session)
    except WebSocketDisconnect:
        pass
    finally:
        done.set()
        answering.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await answering
        # the stream is remembered, whoever ended it. Done here, not awaited: a server shutting the
        # socket down cancels this task, and an await would be where the cancellation lands. It is
        # one row written (the summary is made from counts, not by the model).
        session.close()


async def _read_loop(socket: WebSocket, session: Any) -> None:
    from fabula.stream.live import ChatMessage

    counter = 0
    while True:
        raw = await socket.receive_text()
        try:
            frame = json.loads(raw)
            if not isinstance(frame, dict) or not isinstance(frame.get("text"), str) or not frame["text"].strip():
                raise InvalidParam("text", raw[:60], 'send {"user": "...", "text": "..."}')
            donation = frame.get("donation", 0)
            if (
                isinstance(donation, bool)
                or not isinstance(donation, (int, float))
                or not math.isfinite(donation)
                or donation < 0
            ):
                raise InvalidParam("donation", donation, "a finite number, 0 or more")
            message = ChatMessage(
                counter, str(frame.get("user") or "viewer")[:40], frame["text"][:2000], float(donation)
            )
        except (ValueError, InvalidParam) as exc:
            await socket.send_json({"type": "error", "message": str(exc)})
            continue
        counter += 1
        outcome = await asyncio.to_thread(session.chat.intake, message)
        if outcome is None or outcome.message is not message:
            await socket.send_json({"type": "queued", "id": message.id})
        if outcome is not None:  # refused, or a lower-ranked message it pushed out of the queue
            session.record(outcome)
            await socket.send_json(_verdict(outcome))


async def _answer_loop(socket: WebSocket, session: Any, state: Any, owner: str | None, done: asyncio.Event) -> None:
    from fabula.api.engine_runner import run_blocking
    from fabula.stream.live import Outcome

    batch: list[Any] = []
    while not done.is_set():
        if not batch:
            batch, skipped = session.chat.next_batch()
            for outcome in skipped:
                session.record(outcome)
                await socket.send_json(_verdict(outcome))
        if not batch:
            await asyncio.sleep(0.05)
            continue
        try:
            outcomes = await run_blocking(state.gate, partial(session.chat.answer, batch), user=owner)
        except Busy as exc:  # the gate is full for a moment: this batch waits its turn
            await socket.send_json({"type": "busy", "retry_after": exc.retry_after})
            await asyncio.sleep(min(exc.retry_after, 1))
            continue
        except Exception as exc:  # noqa: BLE001 - an engine failure is reported; the stream goes on
            reason = str(exc) if isinstance(exc, FabulaError) else f"the engine failed ({type(exc).__name__})"
            for message in batch:
                failed = Outcome(message, "failed", reason=reason)
                session.record(failed)
                await socket.send_json(_verdict(failed))
            await socket.send_json({"type": "error", "message": reason})
            batch = []
            continue
        batch = []
        for outcome in outcomes:
            session.record(outcome)
        first = outcomes[0]
        await socket.send_json(
            {
                "type": "reply",
                "ids": [o.message.id for o in outcomes],
                "text": first.reply,
                "latency_s": round(first.latency_s or 0, 3),
            }
        )


def _verdict(outcome: Any) -> dict[str, Any]:
    return {"type": "verdict", "id": outcome.message.id, "verdict": outcome.verdict, "reason": outcome.reason}
