"""/api/stream/ws: live chat over a WebSocket, answered by a persona.

Connect to `/api/stream/ws?persona=NAME` (a card imported with `fabula persona import`; with users,
add `&key=KEY`, since browsers cannot set headers on a WebSocket). Send frames
`{"user": "mira", "text": "hi!", "donation": 0}`; receive `{"type": "verdict", "id", "verdict",
"reason"}` for a message that will not be answered (blocked, duplicate, rate limited, dropped,
skipped) and `{"type": "reply", "ids": [...], "text", "latency_s"}` when the character answers.
A bad frame gets `{"type": "error", "message"}` and the connection stays open. Replies are
written on the engine gate like any request, one batch at a time per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from fabula.errors import FabulaError, InvalidParam, NotFound

router = APIRouter(prefix="/api/stream")


def persona_path(home: Path, name: str) -> Path:
    import re

    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,59}", name or ""):
        raise InvalidParam("persona", name, "a persona's file name: lower-case letters, digits and -")
    path = home / "personas" / f"{name}.yaml"
    if not path.is_file():
        raise NotFound(f"no persona {name!r}: import one with `fabula persona import CARD`")
    return path


@router.websocket("/ws")
async def live_chat(socket: WebSocket, persona: str = "", key: str = "") -> None:
    from fabula.api.engine_runner import run_blocking
    from fabula.stream.live import ChatMessage, LiveChat, audience_policy
    from fabula.stream.memory import StreamMemory
    from fabula.stream.persona import load_persona

    state = socket.app.state.fabula
    await socket.accept()
    try:
        header = socket.headers.get("authorization") or (f"Bearer {key}" if key else None)
        loop = asyncio.get_running_loop()
        from fabula.api.auth import user_for

        owner = await loop.run_in_executor(None, user_for, state.db, header)
        character = load_persona(persona_path(state.settings.ensure_home(), persona))
        backend = await state.backend()
    except FabulaError as exc:
        await socket.send_json({"type": "error", "message": str(exc)})
        await socket.close(code=4401 if "key" in str(exc).lower() else 4404)
        return
    chat = LiveChat(character, backend, audience_policy(state.settings.safety), StreamMemory(state.db, character.name))
    counter = 0
    done = asyncio.Event()

    async def answer_loop() -> None:
        while not done.is_set():
            batch, skipped = chat.next_batch()
            for outcome in skipped:
                await socket.send_json(_verdict(outcome))
            if not batch:
                await asyncio.sleep(0.05)
                continue
            outcomes = await run_blocking(state.gate, partial(chat.answer, batch), user=owner)
            first = outcomes[0]
            await socket.send_json(
                {
                    "type": "reply",
                    "ids": [o.message.id for o in outcomes],
                    "text": first.reply,
                    "latency_s": round(first.latency_s or 0, 3),
                }
            )

    answering = asyncio.create_task(answer_loop())
    try:
        while True:
            raw = await socket.receive_text()
            try:
                frame = json.loads(raw)
                if not isinstance(frame, dict) or not isinstance(frame.get("text"), str) or not frame["text"].strip():
                    raise InvalidParam("text", raw[:60], 'send {"user": "...", "text": "..."}')
                donation = frame.get("donation", 0)
                if isinstance(donation, bool) or not isinstance(donation, (int, float)) or donation < 0:
                    raise InvalidParam("donation", donation, "a number, 0 or more")
                message = ChatMessage(
                    counter, str(frame.get("user") or "viewer")[:40], frame["text"][:2000], float(donation)
                )
            except (ValueError, InvalidParam) as exc:
                await socket.send_json({"type": "error", "message": str(exc)})
                continue
            counter += 1
            outcome = await loop.run_in_executor(None, chat.intake, message)
            if outcome is None or outcome.message is not message:
                await socket.send_json({"type": "queued", "id": message.id})
            if outcome is not None:  # refused, or a lower-ranked message it pushed out of the queue
                await socket.send_json(_verdict(outcome))
    except WebSocketDisconnect:
        pass
    finally:
        done.set()
        answering.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await answering


def _verdict(outcome: Any) -> dict[str, Any]:
    return {"type": "verdict", "id": outcome.message.id, "verdict": outcome.verdict, "reason": outcome.reason}
