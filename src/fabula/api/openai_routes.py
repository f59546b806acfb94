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
    parse_protocol,
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
    from fabula.forms import available

    state = _state(request)
    await state.owner(request)
    backend = await state.backend()
    created = int(state.started)
    rows = [{"id": backend.model_name, "object": "model", "created": created, "owned_by": "fabula"}]
    rows += [{"id": f"fabula-{f}", "object": "model", "created": created, "owned_by": "fabula"} for f in available()]
    rows += [{"id": name, "object": "model", "created": created, "owned_by": "fabula"} for name in EMBEDDING_MODELS]
    return {"object": "list", "data": rows}


# the embedding models that ship in packages (fabula.embeddings), by the names clients ask for;
# `fabula-embed` picks one per call by the share of Han characters, as the library does
EMBEDDING_MODELS = {"all-minilm-l6-v2": "minilm", "multilingual-e5-small": "e5", "fabula-embed": "auto"}
MAX_EMBED_INPUTS = 256


@router.post(
    "/embeddings",
    openapi_extra=openapi_body(
        {
            "type": "object",
            "required": ["input", "model"],
            "properties": {
                "input": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
                "model": {"type": "string", "enum": list(EMBEDDING_MODELS)},
                "encoding_format": {"type": "string", "enum": ["float", "base64"]},
                "dimensions": {"type": "integer", "enum": [384]},
                "user": {"type": "string"},
            },
        }
    ),
)
async def embeddings(request: Request) -> dict[str, Any]:
    """384-dimensional unit vectors from the shipped MiniLM (English) or multilingual-e5 (Chinese)
    models, in OpenAI's shape; `encoding_format: "base64"` (the openai client's default) is
    little-endian float32. Nothing sent here is cached on disk."""
    state = _state(request)
    owner = await state.owner(request)
    data = parse_json(await request.body())
    unknown = sorted(set(data) - {"input", "model", "encoding_format", "dimensions", "user"})
    if unknown:
        raise InvalidParam(unknown[0], data[unknown[0]], "is not supported by /v1/embeddings")
    name = data.get("model")
    if name not in EMBEDDING_MODELS:
        raise NotFound(f"embedding model {name!r} is not served here; use one of {', '.join(EMBEDDING_MODELS)}")
    raw = data.get("input")
    texts = [raw] if isinstance(raw, str) else raw
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise InvalidParam("input", type(raw).__name__, "a string or a list of strings (token arrays are not taken)")
    if len(texts) > MAX_EMBED_INPUTS:
        raise InvalidParam("input", f"{len(texts)} texts", f"at most {MAX_EMBED_INPUTS} texts per request")
    texts = [check_text(f"input[{i}]", t) for i, t in enumerate(texts)]
    fmt = data.get("encoding_format", "float")
    if fmt not in ("float", "base64"):
        raise InvalidParam("encoding_format", fmt, "float or base64")
    if data.get("dimensions") not in (None, 384):
        raise InvalidParam("dimensions", data["dimensions"], "these models give 384 dimensions")

    def encode() -> Any:
        from fabula.embeddings import embed

        return embed(texts, None, EMBEDDING_MODELS[name])

    vectors = await run_blocking(state.gate, encode, user=owner, disconnected=request.is_disconnected)
    rows = []
    for i, vector in enumerate(vectors):
        if fmt == "base64":
            import base64

            import numpy as np

            value: Any = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
        else:
            value = [float(x) for x in vector]
        rows.append({"object": "embedding", "index": i, "embedding": value})
    words = sum(len(t.split()) for t in texts)
    return {"object": "list", "data": rows, "model": name, "usage": {"prompt_tokens": words, "total_tokens": words}}


@router.get("/models/{model_id}")
async def model(request: Request, model_id: str) -> dict[str, Any]:
    """One model of `GET /v1/models` (404 for any other name), as OpenAI clients look one up."""
    listed = await models(request)
    for row in listed["data"]:
        if row["id"] == model_id:
            return row  # type: ignore[no-any-return]
    raise NotFound(f"model {model_id!r} is not served here; GET /v1/models lists them")


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
    protocol = parse_protocol(data, chat)
    client_user = data.get("user")
    if client_user is not None:
        client_user = check_text("user", client_user)[:256]
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
    _refuse_what_cannot_be_honoured(protocol, data, form, backend)
    engine_request = EngineRequest(
        messages,
        prompt_text,
        params,
        raw=not chat,
        json_schema=protocol.json_schema,
        top_logprobs=0 if protocol.top_logprobs is None else max(1, protocol.top_logprobs),
        logit_bias=protocol.logit_bias,
        ignore_eos=protocol.ignore_eos,
    )
    meta = {
        "id": f"{'chatcmpl' if chat else 'cmpl'}-{secrets.token_hex(12)}",
        "created": int(time.time()),
        "model": model,
    }
    if stream and params.n != 1 and form is not None:
        raise InvalidParam(
            "n", params.n, "a form's candidates become one work: stream it with n=1, or use stream=false"
        )
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
            events = _stream(state, backend, engine_request, form, policy, owner, idem, release, client_user)
            return StreamingResponse(
                _sse(
                    events,
                    meta,
                    chat,
                    release,
                    include_usage=protocol.include_usage,
                    top_logprobs=protocol.top_logprobs,
                ),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-store"},
                background=BackgroundTask(release),
            )
        result = await run_blocking(
            state.gate,
            lambda: _generate(state, backend, engine_request, form, None, owner, idem, client_user),
            user=owner,
            disconnected=request.is_disconnected,
        )
    except BaseException:
        if release_key is not None:
            release_key()
        raise
    if release_key is not None and not stream:
        release_key()
    body = await asyncio.to_thread(_response, meta, chat, result, policy, protocol.top_logprobs)
    return JSONResponse(body)


def _refuse_what_cannot_be_honoured(protocol: Any, data: dict[str, Any], form: Any, backend: Any) -> None:
    """A protocol field this engine, or a form request, cannot honour is a 400 naming it: never
    silently dropped."""
    if protocol.json_schema is not None:
        if form is not None:
            raise InvalidParam(
                "response_format",
                data["response_format"],
                "a form's output has its own shape; use it without fabula.form",
            )
        if not backend.capabilities.json_schema:
            raise InvalidParam(
                "response_format",
                data["response_format"],
                f"the {backend.name} engine cannot decode under a schema; serve with llamacpp, hf or openai",
            )
    if protocol.logit_bias is not None:
        vocab = getattr(backend, "vocab_size", None)
        too_big = [t for t in protocol.logit_bias if vocab and t >= vocab]
        if not backend.capabilities.logit_bias:
            raise InvalidParam("logit_bias", data["logit_bias"], f"the {backend.name} engine cannot bias logits")
        if too_big:
            raise InvalidParam(f"logit_bias.{too_big[0]}", too_big[0], f"this model has {vocab} tokens")
        if form is not None:
            raise InvalidParam(
                "logit_bias", data["logit_bias"], "a form's candidates are decoded by fabula; leave it off"
            )
    if protocol.ignore_eos and (form is not None or not backend.capabilities.ignore_eos):
        where = "a form's candidates end where fabula ends them" if form else f"the {backend.name} engine cannot"
        raise InvalidParam("ignore_eos", True, f"{where}; leave it off")
    if protocol.top_logprobs is not None:
        why = None
        if form is not None:
            why = "a form's text is cleaned and checked after decoding: ask for logprobs without fabula.form"
        elif not backend.capabilities.top_logprobs:
            why = f"the {backend.name} engine does not report token alternatives; serve with llamacpp"
        if why:
            raise InvalidParam("logprobs", data.get("logprobs"), why)


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
    yield "delta", (0, result.completions[0].text)
    yield "done", result


def _generate(
    state: Any,
    backend: Any,
    request: EngineRequest,
    form: FormRequest | None,
    emit: Any,
    owner: str | None = None,
    key: IdempotencyKey | None = None,
    client_user: str | None = None,
) -> Generated:
    """Plain engine completions (each streamed with its choice's index), or a form's work through
    the pipeline (saved, like the CLI; its first candidate streams)."""
    if form is None:
        on_text = (lambda i, delta: emit((i, delta))) if emit else None
        return Generated(list(backend.complete(request, on_text)), None)
    first = (lambda i, delta: emit((0, delta)) if i == 0 else None) if emit else None
    return _from_work(state.write_form(form, request, first, owner, key, client_user))


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
    return Generated(
        [Completion(work.text, c.finish_reason, c.seed, c.prompt_tokens, c.completion_tokens, c.cached_tokens)], info
    )


@dataclass(frozen=True)
class Generated:
    completions: list[Completion]
    work: dict[str, Any] | None  # for a form: the saved work's id, checks and originality


def _logprobs_field(completion: Completion, chat: bool, top: int | None) -> dict[str, Any] | None:
    """A choice's `logprobs` as OpenAI shapes it for chat (`content`) and for completions."""
    if top is None or completion.tokens is None:
        return None
    entries = [dict(t) | {"top_logprobs": list(t["top_logprobs"])[:top]} for t in completion.tokens]
    if chat:
        return {"content": entries}
    offsets, at = [], 0
    for entry in entries:
        offsets.append(at)
        at += len(entry["token"])
    return {
        "tokens": [e["token"] for e in entries],
        "token_logprobs": [e["logprob"] for e in entries],
        "top_logprobs": [{alt["token"]: alt["logprob"] for alt in e["top_logprobs"]} for e in entries],
        "text_offset": offsets,
    }


def _response(
    meta: dict[str, Any], chat: bool, result: Generated, policy: SafetyPolicy, top_logprobs: int | None = None
) -> dict[str, Any]:
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
                "logprobs": None if verdict["blocked"] else _logprobs_field(completion, chat, top_logprobs),
            }
        else:
            logprobs = None if verdict["blocked"] else _logprobs_field(completion, chat, top_logprobs)
            choice = {"index": i, "text": text, "finish_reason": finish, "logprobs": logprobs}
        if verdict["blocked"]:
            choice["fabula"] = {"blocked": verdict["categories"]}
        elif result.work is not None:
            choice["fabula"] = result.work
        choices.append(choice)
    return meta | {
        "object": "chat.completion" if chat else "text_completion",
        "choices": choices,
        "usage": _usage(completions),
    }


def _usage(completions: list[Completion]) -> dict[str, Any]:
    """OpenAI's usage: the prompt counted once, the candidates' tokens summed, and how many prompt
    tokens a cached prefix supplied (`prompt_tokens_details.cached_tokens`, as OpenAI reports it)."""
    prompt = completions[0].prompt_tokens if completions else 0
    generated = sum(c.completion_tokens for c in completions)
    cached = completions[0].cached_tokens if completions else 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": generated,
        "total_tokens": prompt + generated,
        "prompt_tokens_details": {"cached_tokens": cached},
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
    client_user: str | None = None,
) -> AsyncIterator[tuple[str, Any]]:
    """Deltas as they come; at each sentence end the text so far is checked (on a worker thread:
    the text grows, and the event loop serves everyone), and a block ends it."""
    texts: dict[int, str] = {}
    work = lambda emit: _generate(state, backend, request, form, emit, owner, key, client_user)  # noqa: E731
    async for kind, value in stream_completion(state.gate, work, user=owner, release=release):
        verdict = None
        if kind == "delta":
            index, delta = value
            texts[index] = texts.get(index, "") + delta
            if any(mark in delta for mark in ".!?\n"):
                verdict = await asyncio.to_thread(policy.check, texts[index], "output")
        elif kind == "done":
            for completion in value.completions:
                verdict = await asyncio.to_thread(policy.check, completion.text, "output")
                if verdict["blocked"]:
                    break
        if verdict is not None and verdict["blocked"]:
            yield "blocked", verdict
            return
        yield kind, value


def _event(data: dict[str, Any]) -> bytes:
    # json.dumps escapes every control character, so no text can break the SSE framing
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def _sse(
    events: AsyncIterator[tuple[str, Any]],
    meta: dict[str, Any],
    chat: bool,
    release: Any = None,
    include_usage: bool = False,
    top_logprobs: int | None = None,
) -> AsyncIterator[bytes]:
    """Server-sent events as OpenAI clients read them: a role chunk, deltas carrying their
    choice's `index`, one finish chunk per choice (carrying the choice's `logprobs` when asked
    for: clients add up the entries of every chunk), with `stream_options.include_usage` a last
    chunk with empty choices and the usage, then `[DONE]`."""
    kind_name = "chat.completion.chunk" if chat else "text_completion"

    def chunk(index: int, delta: str | None, finish: str | None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        if chat:
            body: dict[str, Any] = {
                "index": index,
                "delta": {} if delta is None else {"content": delta},
                "finish_reason": finish,
            }
        else:
            body = {"index": index, "text": delta or "", "finish_reason": finish, "logprobs": None}
        return meta | {"object": kind_name, "choices": [body]} | (extra or {})

    if chat:
        first = chunk(0, None, None)
        first["choices"][0]["delta"] = {"role": "assistant", "content": ""}
        yield _event(first)
    try:
        async for kind, value in events:
            if kind == "delta":
                index, delta = value
                yield _event(chunk(index, delta, None))
            elif kind == "done":
                completions = value.completions
                usage = _usage(completions)
                for index, completion in enumerate(completions):
                    last = index == len(completions) - 1
                    # the usage goes once: in its own last chunk when asked for, else with the finish
                    usage_here = {} if include_usage else {"usage": usage}
                    extra = (usage_here | ({"fabula": value.work} if value.work else {})) if last else None
                    finish = chunk(index, None, completion.finish_reason, extra)
                    if top_logprobs is not None:
                        finish["choices"][0]["logprobs"] = _logprobs_field(completion, chat, top_logprobs)
                    yield _event(finish)
                if include_usage:
                    yield _event(meta | {"object": kind_name, "choices": [], "usage": usage})
            elif kind == "blocked":
                yield _event(chunk(0, None, "content_filter", {"fabula": {"blocked": value["categories"]}}))
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
