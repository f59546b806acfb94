"""/api: the signed-in user's own works (list, read, delete, provenance manifest) and who they are.

Every route asks `AppState.owner` first, so in multi-user mode a work of someone else answers
exactly like a work that does not exist (404), for reading and for changing alike.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request

from fabula.api.deps import Owner, State
from fabula.api.requests import object_schema, openapi_body
from fabula.errors import InvalidParam

router = APIRouter(prefix="/api")


@router.post(
    "/login",
    openapi_extra=openapi_body(
        object_schema(["user", "password"], user={"type": "string"}, password={"type": "string"})
    ),
)
async def login(request: Request, state: State) -> dict[str, Any]:
    """{user, password} -> a session key that expires (see fabula.store.users: throttled, constant
    time, audited). In local mode there is nothing to sign in to: 409."""

    from fabula.api.requests import check_text, parse_json
    from fabula.store.users import sign_in

    data = parse_json(await request.body())
    user = check_text("user", data.get("user"))
    password = check_text("password", data.get("password"))
    address = request.client.host if request.client else None
    hours = state.settings.api_session_hours
    key = await asyncio.get_running_loop().run_in_executor(None, sign_in, state.db, user, password, address, hours)
    return {"user": user, "key": key, "expires_in": int(hours * 3600)}


@router.post("/logout")
async def logout(request: Request, state: State) -> dict[str, Any]:
    """End the session (or revoke the key) this request is made with."""

    from fabula.store.users import sign_out

    address = request.client.host if request.client else None
    authorization = request.headers.get("authorization")
    user = await asyncio.get_running_loop().run_in_executor(None, sign_out, state.db, authorization, address)
    return {"user": user, "signed_out": True}


@router.get("/me")
async def me(state: State, owner: Owner) -> dict[str, Any]:
    return {"user": owner, "mode": "local" if owner is None else "users"}


@router.get("/works")
async def list_works(state: State, owner: Owner, limit: int = 20, form: str | None = None) -> dict[str, Any]:
    if not 1 <= limit <= 200:
        raise InvalidParam("limit", limit, "must be from 1 to 200")
    return {"works": state.works().list(limit=limit, form=form, owner=owner)}


@router.get("/works/{work_id}")
async def get_work(state: State, owner: Owner, work_id: str) -> dict[str, Any]:
    return state.works().get(work_id, owner)  # type: ignore[no-any-return]


@router.delete("/works/{work_id}")
async def delete_work(state: State, owner: Owner, work_id: str) -> dict[str, Any]:
    return {"deleted": state.works().delete(work_id, owner)}


@router.get("/works/{work_id}/provenance")
async def provenance(state: State, owner: Owner, work_id: str) -> dict[str, Any]:
    """The work's provenance manifest, signed when the server has a signing key."""
    from fabula.responsible.provenance import build_manifest, sign

    manifest = build_manifest(state.works().get(work_id, owner))
    key = state.settings.signing_key_path
    return sign(manifest, key) if key.is_file() else manifest


@router.post("/works/{work_id}/pick", openapi_extra=openapi_body(object_schema(["index"], index={"type": "integer"})))
async def pick(request: Request, state: State, owner: Owner, work_id: str) -> dict[str, Any]:
    """Make candidate {index} the work's text (the comparison view's "pick this one")."""
    from fabula.api.requests import parse_json

    work_id = state.works().resolve_id(work_id, owner)  # someone else's work: 404 before anything else
    index = parse_json(await request.body()).get("index")
    return state.works().pick(work_id, index, owner)  # type: ignore[no-any-return]


@router.get("/recommendations")
async def recommendations(state: State, signed_in: Owner, k: int = 10, kind: str | None = None) -> dict[str, Any]:
    """What to read or watch next, for the signed-in user, each pick explained."""

    from fabula.personalize.profiles import ProfileStore
    from fabula.personalize.recommend import recommend

    owner = _signed_in(signed_in, "recommendations")
    store = ProfileStore(state.db)
    home = state.settings.ensure_home()
    return await asyncio.get_running_loop().run_in_executor(None, lambda: recommend(store, owner, home, k=k, kind=kind))


@router.get("/works/{work_id}/export")
async def export_work(state: State, owner: Owner, work_id: str, format: str = "md") -> Any:  # noqa: A002 - the query's name
    """The work as a file (md, txt, json, or its form's own: ink, yarn, mid, musicxml, ...), as
    `fabula works export` writes it."""
    from fastapi.responses import Response

    from fabula.service.exports import choose

    store = state.works()
    full = store.resolve_id(work_id, owner)
    work = store.get(full, owner)
    chosen = choose(work["form"], store, None, format)
    named = {".json": "application/json; charset=utf-8", ".md": "text/markdown; charset=utf-8"}
    # a song's score is composed and read back (a second or so): off the event loop
    body = await asyncio.get_running_loop().run_in_executor(None, chosen.render, work)
    disposition = f'attachment; filename="{full}{chosen.suffix}"'
    return Response(
        body, media_type=named.get(chosen.suffix, chosen.media), headers={"Content-Disposition": disposition}
    )


CHECKS = ("originality", "safety", "verse")
VERSE_OPTIONS = {
    "cipai": "a ci's tune (form ci): 如梦令, 浣溪沙, ...",
    "head": "an acrostic's heads (form acrostic): 春风得意 or MOON",
    "shape": "the form an acrostic is written in: wujue, qijue, wulv, qilv, haiku, quatrain, ...",
    "first": "a couplet's first line (form couplet)",
}


@router.post(
    "/check",
    openapi_extra=openapi_body(
        object_schema(
            ["check", "text"],
            check={"type": "string", "enum": list(CHECKS)},
            text={"type": "string"},
            form={
                "type": "string",
                "description": "for verse: haiku, sonnet, wujue, qijue, ci, acrostic, ...",
            },
            scheme={"type": "string", "description": "a quatrain's rhyme scheme: ABAB or AABB"},
            **{name: {"type": "string", "description": what} for name, what in VERSE_OPTIONS.items()},
        )
    ),
)
async def check(request: Request, state: State, _owner: Owner) -> dict[str, Any]:
    """Check any text as the pipeline checks works: originality against the reference index, the
    safety policy's verdict, or a verse form's rules (syllables, rhyme, 平仄)."""

    from fabula.api.requests import check_text, parse_json

    data = parse_json(await request.body())
    kind = data.get("check")
    if kind not in CHECKS:
        raise InvalidParam("check", kind, f"one of: {', '.join(CHECKS)}")
    text = check_text("text", data.get("text"))
    if kind == "safety":  # seconds on a long text: never on the event loop
        return {"check": kind, "report": await asyncio.to_thread(state.policy.check, text, "output")}
    if kind == "verse":
        from fabula.verse.check import check_verse

        options = {name: str(data[name]) for name in VERSE_OPTIONS if data.get(name)}
        report = await asyncio.to_thread(check_verse, text, data.get("form"), data.get("scheme"), **options)
        return {"check": kind, "report": report}
    from fabula.responsible.originality import check_text as originality

    home = state.settings.ensure_home()
    report = await asyncio.get_running_loop().run_in_executor(None, lambda: originality(text, home))
    return {"check": kind, "report": report}


def _signed_in(owner: str | None, what: str) -> str:
    if owner is None:
        raise InvalidParam("user", None, f"{what} are per user: create one (`fabula user add`) and sign in")
    return owner


@router.get("/profile")
async def get_profile(state: State, signed_in: Owner) -> dict[str, Any]:
    """The signed-in user's preferences and the size of their history."""
    from fabula.personalize.profiles import ProfileStore

    owner = _signed_in(signed_in, "profiles")
    profiles = ProfileStore(state.db)
    return profiles.user(owner) | {"events": len(profiles.history(owner))}


@router.put(
    "/profile",
    openapi_extra=openapi_body(
        object_schema(
            [],
            genres={"type": "array", "items": {"type": "string"}},
            tone={"type": "string"},
            length={"type": "string"},
            language={"type": "string"},
        )
    ),
)
async def set_profile(request: Request, state: State, signed_in: Owner) -> dict[str, Any]:
    """Change preferences (genres, tone, length, language); each is checked by name."""
    from fabula.api.requests import parse_json
    from fabula.personalize.profiles import ProfileStore

    owner = _signed_in(signed_in, "profiles")
    return {"preferences": ProfileStore(state.db).set_preferences(owner, parse_json(await request.body()))}


@router.post(
    "/feedback",
    status_code=201,
    openapi_extra=openapi_body(
        object_schema(
            ["kind", "item"],
            kind={"type": "string", "enum": ["view", "rate", "like", "accept", "reject", "edit"]},
            item={"type": "string", "description": "a catalogue item or one of your works"},
            value={"type": "number"},
            text={"type": "string", "description": "for an edit: your own version, which becomes part of your voice"},
        )
    ),
)
async def feedback(request: Request, state: State, signed_in: Owner) -> dict[str, Any]:
    """Record what the user did with an item or one of their works: it steers recommendations
    and, for edits and accepted works, the voice of what is written for them next."""
    from fabula.api.requests import check_text, parse_json
    from fabula.personalize.profiles import ProfileStore

    owner = _signed_in(signed_in, "feedback events")
    data = parse_json(await request.body())
    item = check_text("item", data.get("item"))
    if data.get("kind") in ("accept", "reject", "edit"):
        item = state.works().resolve_id(item, owner)  # only one's own works: 404 for anyone else's
    value = data.get("value")
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise InvalidParam("value", value, "a number (a rating from 1 to 5)")
    text = data.get("text")
    if text is not None:
        text = check_text("text", text)
    event = ProfileStore(state.db).record(owner, str(data.get("kind")), item, value, text)
    return {
        "user": event.user_id,
        "kind": event.kind,
        "item": event.item_id,
        "created_at": event.created_at.isoformat(),
    }
