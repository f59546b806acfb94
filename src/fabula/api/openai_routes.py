"""The OpenAI-compatible endpoints: /v1/models, /v1/chat/completions, /v1/completions.

Plain chat goes to the engine with fabula's validated sampling. A form is reached through the
model name (`fabula-poem`, `fabula-story`, ...) or the extra body field
`"fabula": {"form": "poem", "inputs": {"form": "haiku"}}`: the request then runs the whole pipeline
(constraints, checks, ranking, originality, provenance) and the work is saved. Every prompt and
every output passes the safety policy: a blocked prompt is a 400, a blocked output ends with
`finish_reason: "content_filter"` and no text (streamed text stops at the sentence that tripped it).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.background import BackgroundTask

from fabula.api.engine_runner import admit, run_blocking, stream_completion
from fabula.api.requests import (
    CHAT_BODY,
    COMPLETION_BODY,
    FormRequest,
    check_text,
    openapi_body,
    parse_form,
    parse_json,
    parse_messages,
    parse_params,
)
from fabula.errors import Forbidden, InvalidParam, NotFound
from fabula.responsible.safety import Blocked, SafetyPolicy
from fabula.types import Completion, Message, Work
from fabula.types import Request as EngineRequest

if TYPE_CHECKING:
    from fabula.store.works import IdempotencyKey

router = APIRouter(prefix="/v1")


def _state(request: Request) -> Any:
    return request.app.state.fabula


@router.get("/models")
async def models(request: Request) -> dict[str, Any]:
    """The loaded model, and one pseudo-model per form (`fabula-poem` writes a poem)."""
    from fabula.forms import FORMS

    state = _state(request)
    await state.owner(request)
    backend = await state.backend()
    created = int(state.started)
    rows = [{"id": backend.model_name, "object": "model", "created": created, "owned_by": "fabula"}]
    rows += [{"id": f"fabula-{f}", "object": "model", "created": created, "owned_by": "fabula"} for f in FORMS]
    return {"object": "list", "data": rows}


def _check_model(name: object, backend: Any) -> str:
    if name is None:
        return str(backend.model_name)
    if not isinstance(name, str):
        raise InvalidParam("model", name, "must be a string")
    if name != backend.model_name and not name.startswith("fabula-"):
        raise NotFound(f"model {name!r} is not served here; GET /v1/models lists {backend.model_name!r} and the forms")
    return name


@router.post("/chat/completions", openapi_extra=openapi_body(CHAT_BODY))
async def chat_completions(request: Request) -> Any:
    return await _complete(request, chat=True)


@router.post("/completions", openapi_extra=openapi_body(COMPLETION_BODY))
async def completions(request: Request) -> Any:
    return await _complete(request, chat=False)


async def _complete(request: Request, chat: bool) -> Any:
    state = _state(request)
    owner = await state.owner(request)
    data = parse_json(await request.body())
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= 200:
        raise InvalidParam("Idempotency-Key", key[:40], "must be 1 to 200 characters")
    params = parse_params(data)
    if chat:
        messages = parse_messages(data)
        prompt_text = "\n".join(m.content for m in messages)
    else:
        prompt_text = check_text("prompt", data.get("prompt"))
        messages = (Message("user", prompt_text),)
    stream = data.get("stream", False)
    if not isinstance(stream, bool):
        raise InvalidParam("stream", stream, "must be true or false")
    backend = await state.backend()
    model = _check_model(data.get("model"), backend)
    policy: SafetyPolicy = state.policy
    try:  # a check over megabytes of text takes seconds: never on the event loop
        await asyncio.to_thread(policy.enforce, prompt_text, "prompt")
    except Blocked as exc:
        raise InvalidParam("messages" if chat else "prompt", "blocked", str(exc)) from None
    form = parse_form(data, model)
    if form is not None and form.user is not None and owner is not None and form.user != owner:
        raise Forbidden(f"fabula.user={form.user!r}: signed in, you write in your own voice only ({owner!r})")
    engine_request = EngineRequest(messages, prompt_text, params, raw=not chat)
    meta = {
        "id": f"{'chatcmpl' if chat else 'cmpl'}-{secrets.token_hex(12)}",
        "created": int(time.time()),
        "model": model,
    }
    if stream and params.n != 1:
        raise InvalidParam("n", params.n, "streaming sends one candidate; use n=1 or stream=false")
    idem, release_key = None, None
    if form is not None and key is not None:  # a retry of a saved request: answer it again, save nothing
        from fabula.api.idempotency import fingerprint_body
        from fabula.store.works import IdempotencyKey

        saved_for = owner if owner is not None else form.user  # as the write service saves it
        idem = IdempotencyKey.of(key, fingerprint_body("chat" if chat else "completions", data))
        release_key = await state.key_locks.acquire(saved_for, key)  # a concurrent retry waits for the first
        try:
            done = await asyncio.to_thread(state.works().by_idempotency_key, saved_for, idem)
        except BaseException:
            release_key()
            raise
        if done is not None:
            release_key()
            replayed = await asyncio.to_thread(_replay, state, done, saved_for)
            if stream:  # asked for as a stream, replayed as one
                replay_meta = _replay_meta(model, done, chat)
                return StreamingResponse(
                    _sse(_replayed(replayed), replay_meta, chat),
                    media_type="text/event-stream",
                    headers={"Cache-Control": "no-store"},
                )
            body = await asyncio.to_thread(_response, _replay_meta(model, done, chat), chat, replayed, policy)
            return JSONResponse(body)
    try:
        if stream:
            admitted = admit(state.gate, owner)  # a 429 now, before any 200, when the queue is full
            release = _both(admitted, release_key)
            events = _stream(state, backend, engine_request, form, policy, owner, idem, release)
            return StreamingResponse(
                _sse(events, meta, chat, release),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-store"},
                background=BackgroundTask(release),
            )
        result = await run_blocking(
            state.gate,
            lambda: _generate(state, backend, engine_request, form, None, owner, idem),
            user=owner,
            disconnected=request.is_disconnected,
        )
    except BaseException:
        if release_key is not None:
            release_key()
        raise
    if release_key is not None and not stream:
        release_key()
    return JSONResponse(await asyncio.to_thread(_response, meta, chat, result, policy))


def _both(first: Any, second: Any) -> Any:
    """One release for the queue slot and the idempotency key (each safe to call twice)."""
    if second is None:
        return first

    def release() -> None:
        first()
        second()

    return release


async def _replayed(result: Generated) -> AsyncIterator[tuple[str, Any]]:
    """A saved work as the stream events a live answer sends: its text, then done."""
    yield "delta", result.completions[0].text
    yield "done", result


def _generate(
    state: Any,
    backend: Any,
    request: EngineRequest,
    form: FormRequest | None,
    emit: Any,
    owner: str | None = None,
    key: IdempotencyKey | None = None,
) -> Generated:
    """Plain engine completions, or a form's work through the pipeline (saved, like the CLI)."""
    on_text = (lambda i, delta: emit(delta) if i == 0 else None) if emit else None
    if form is None:
        return Generated(list(backend.complete(request, on_text)), None)
    return _from_work(state.write_form(form, request, on_text, owner, key))


def _replay(state: Any, work_id: str, owner: str | None) -> Generated:
    return _from_work(state.works().load(work_id, owner))


def _replay_meta(model: str, work_id: str, chat: bool) -> dict[str, Any]:
    return {"id": f"{'chatcmpl' if chat else 'cmpl'}-{work_id}", "created": int(time.time()), "model": model}


def _from_work(work: Work) -> Generated:
    chosen = work.chosen
    info = {
        "work_id": work.id,
        "form": work.form,
        "passed": work.passed,
        "verdicts": chosen.verdicts,
        "originality": {k: work.provenance["originality"][k] for k in ("score", "flagged", "longest_span_tokens")},
    }
    c = chosen.completion
    return Generated([Completion(work.text, c.finish_reason, c.seed, c.prompt_tokens, c.completion_tokens)], info)


@dataclass(frozen=True)
class Generated:
    completions: list[Completion]
    work: dict[str, Any] | None  # for a form: the saved work's id, checks and originality


def _response(meta: dict[str, Any], chat: bool, result: Generated, policy: SafetyPolicy) -> dict[str, Any]:
    completions = result.completions
    choices = []
    for i, completion in enumerate(completions):
        verdict = policy.check(completion.text, "output")
        text = "" if verdict["blocked"] else completion.text
        finish = "content_filter" if verdict["blocked"] else completion.finish_reason
        if chat:
            choice: dict[str, Any] = {
                "index": i,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish,
            }
        else:
            choice = {"index": i, "text": text, "finish_reason": finish, "logprobs": None}
        if verdict["blocked"]:
            choice["fabula"] = {"blocked": verdict["categories"]}
        elif result.work is not None:
            choice["fabula"] = result.work
        choices.append(choice)
    prompt = completions[0].prompt_tokens if completions else 0
    generated = sum(c.completion_tokens for c in completions)
    return meta | {
        "object": "chat.completion" if chat else "text_completion",
        "choices": choices,
        "usage": {"prompt_tokens": prompt, "completion_tokens": generated, "total_tokens": prompt + generated},
    }


async def _stream(
    state: Any,
    backend: Any,
    request: EngineRequest,
    form: FormRequest | None,
    policy: SafetyPolicy,
    owner: str | None = None,
    key: IdempotencyKey | None = None,
    release: Any = None,
) -> AsyncIterator[tuple[str, Any]]:
    """Deltas as they come; at each sentence end the text so far is checked (on a worker thread:
    the text grows, and the event loop serves everyone), and a block ends it."""
    text = ""
    work = lambda emit: _generate(state, backend, request, form, emit, owner, key)  # noqa: E731
    async for kind, value in stream_completion(state.gate, work, user=owner, release=release):
        verdict = None
        if kind == "delta":
            text += value
            if any(mark in value for mark in ".!?\n"):
                verdict = await asyncio.to_thread(policy.check, text, "output")
        elif kind == "done":
            verdict = await asyncio.to_thread(policy.check, value.completions[0].text, "output")
        if verdict is not None and verdict["blocked"]:
            yield "blocked", verdict
            return
        yield kind, value


def _event(data: dict[str, Any]) -> bytes:
    # json.dumps escapes every control character, so no text can break the SSE framing
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def _sse(
    events: AsyncIterator[tuple[str, Any]], meta: dict[str, Any], chat: bool, release: Any = None
) -> AsyncIterator[bytes]:
    kind_name = "chat.completion.chunk" if chat else "text_completion"

    def chunk(delta: str | None, finish: str | None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        if chat:
            body: dict[str, Any] = {
                "index": 0,
                "delta": {} if delta is None else {"content": delta},
                "finish_reason": finish,
            }
        else:
            body = {"index": 0, "text": delta or "", "finish_reason": finish, "logprobs": None}
        return meta | {"object": kind_name, "choices": [body]} | (extra or {})

    if chat:
        first = chunk(None, None)
        first["choices"][0]["delta"] = {"role": "assistant", "content": ""}
        yield _event(first)
    try:
        async for kind, value in events:
            if kind == "delta":
                yield _event(chunk(value, None))
            elif kind == "done":
                completion = value.completions[0]
                usage = {
                    "prompt_tokens": completion.prompt_tokens,
                    "completion_tokens": completion.completion_tokens,
                    "total_tokens": completion.prompt_tokens + completion.completion_tokens,
                }
                extra = {"usage": usage} | ({"fabula": value.work} if value.work else {})
                yield _event(chunk(None, completion.finish_reason, extra))
            elif kind == "blocked":
                yield _event(chunk(None, "content_filter", {"fabula": {"blocked": value["categories"]}}))
            elif kind == "error":
                yield _event({"error": _error_body(value)})
    except InvalidParam as exc:
        yield _event({"error": _error_body(exc)})
    finally:
        if release is not None:
            release()  # the stream ended or was dropped before the engine began: free the slot
    yield b"data: [DONE]\n\n"


def _error_body(exc: BaseException) -> dict[str, Any]:
    from fabula.api.errors import error_body

    return error_body(exc)[1]["error"]
