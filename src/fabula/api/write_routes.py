"""POST /api/works: write one work through the write service, with a typed body.

The body is a pydantic model whose `sampling` part is `SamplingControls` itself, the one
declaration of the controls: the bounds published in /openapi.json are the ones enforced, and an
out-of-range value is a 400 naming `sampling.NAME` (the validation handler keeps the OpenAI
error shape). The answer is the work as `fabula write --json` prints it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel, ConfigDict, Field

from fabula.api.deps import Owner, State
from fabula.errors import Forbidden, InvalidParam
from fabula.sampling import SamplingControls

router = APIRouter(prefix="/api")


class WriteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    form: str = Field(description="story, poem, lyrics, quest, npc, social, product or summary")
    prompt: str | None = Field(None, max_length=200_000, description="the premise; the form's default if left out")
    inputs: dict[str, str] = Field(default_factory=dict, description='form inputs, e.g. {"form": "haiku"}')
    sampling: SamplingControls = Field(default_factory=lambda: SamplingControls(), description="how to sample")
    creativity: float | None = Field(None, ge=0.0, le=1.0, description="a measured preset; sampling wins")
    rank: str | None = Field(None, max_length=200, description="best-of-n weights, e.g. likelihood=1,compliance=2")
    user: str | None = Field(None, max_length=64, description="write in this user's voice (signed in: your own id)")


@router.post("/works", status_code=201)
async def write_work(
    body: WriteBody,
    request: Request,
    state: State,
    owner: Owner,
    idempotency_key: str | None = Header(None, max_length=200),
) -> dict[str, Any]:
    """Write, review and save one work, exactly as `fabula write` does."""
    import asyncio

    from fabula.api.engine_runner import run_blocking
    from fabula.api.requests import check_text
    from fabula.forms import available
    from fabula.sampling import SamplingParams
    from fabula.service.write import WriteJob, run_write

    if body.form not in available():
        raise InvalidParam("form", body.form, f"forms: {', '.join(available())}")
    if body.user is not None and owner is not None and body.user != owner:
        raise Forbidden(f"user={body.user!r}: signed in, you write in your own voice only ({owner!r})")
    if body.prompt is not None:
        check_text("prompt", body.prompt)
        await asyncio.to_thread(state.policy.enforce, body.prompt, "prompt")
    given = body.sampling.model_dump(exclude_unset=True)
    if body.creativity is not None:
        from fabula.decoding.creativity import preset

        given = {**preset(body.creativity), **given}
    saved_for = owner if owner is not None else body.user
    idem = None
    if idempotency_key is not None:
        from fabula.store.works import IdempotencyKey

        idem = IdempotencyKey.of(idempotency_key, {"route": "works"} | body.model_dump(mode="json"))
    job = WriteJob(
        body.form,
        body.prompt,
        body.inputs,
        SamplingParams.from_mapping(given),
        user=body.user,
        owner=owner,
        rank=body.rank,
        idempotency_key=idem,
    )
    release = await state.key_locks.acquire(saved_for, idem.key) if idem is not None else None
    try:  # a concurrent retry waits here for the first request, then gets its work
        if idem is not None:
            done = await asyncio.to_thread(state.works().by_idempotency_key, saved_for, idem)
            if done is not None:
                return await asyncio.to_thread(state.works().get, done)  # type: ignore[no-any-return]
        result = await run_blocking(
            state.gate,
            lambda: run_write(job, state.settings, backend=state.backend_for(job), store=state.works()),
            user=owner,
            disconnected=request.is_disconnected,
        )
    finally:
        if release is not None:
            release()
    return result.work.to_json()
