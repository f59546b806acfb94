"""/api/manuscripts: co-writing over HTTP, as `fabula draft ...` does it.

A manuscript belongs to the user who made it (its own folder); every route answers 404 for
someone else's. A verb runs on the engine pool like any generation (a gate slot, cancelled when
the client leaves) and its chosen candidate is saved as a change before the answer is sent, so
what a client was told is what the store holds.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from fabula.api.deps import Owner, State
from fabula.api.plan_routes import BIBLE_SCHEMA
from fabula.api.requests import check_text, object_schema, openapi_body, parse_json, sampling_schema
from fabula.cowrite.verbs import VERBS
from fabula.errors import InvalidParam

router = APIRouter(prefix="/api/manuscripts")

VERB_SCHEMA = object_schema(
    [],
    start={"type": "integer", "minimum": 0},
    end={"type": "integer", "minimum": 0},
    instruction={"type": "string"},
    lead={"type": "string", "description": "continue: start from this text (a token alternative picked)"},
    n={"type": "integer", "minimum": 1, "maximum": 8},
    choose={"type": "integer", "minimum": 1, "description": "apply this candidate (1-based); 0 applies none"},
    stream={
        "type": "boolean",
        "description": "server-sent events: {attempt, delta} as candidates are written, then {result}",
    },
    **sampling_schema("seed", "temperature", "max_tokens"),
)


def _store(state: Any, owner: str | None) -> Any:
    from fabula.service.drafts import manuscript_store

    return manuscript_store(state.settings, owner)


def _owned_store(state: State, owner: Owner, manuscript_id: str) -> Any:
    """The owner's manuscript store once `manuscript_id` is known to be theirs: someone else's
    manuscript is a 404 before the body is read, so no reply about a bad body tells that it exists."""
    store = _store(state, owner)
    store.resolve(manuscript_id)
    return store


Manuscripts = Annotated[Any, Depends(_owned_store)]


def _doc_json(doc: Any) -> dict[str, Any]:
    from fabula.cowrite import attribution

    return {
        "id": doc.id,
        "title": doc.title,
        "kind": doc.kind,
        "form": doc.form,
        "head": doc.head,
        "text": doc.text,
        "attribution": attribution.shares(doc.runs),
        "spans": attribution.spans(doc.runs),
    }


def _manuscript_json(manuscript: Any) -> dict[str, Any]:
    return {
        "id": manuscript.id,
        "title": manuscript.title,
        "created": manuscript.created,
        "attribution": manuscript.attribution(),
        "bible": manuscript.bible,
        "documents": [_doc_json(d) for d in manuscript.documents],
    }


def _int(data: dict[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidParam(name, value, "a whole number of characters, 0 or more")
    return value


@router.get("")
async def list_manuscripts(state: State, owner: Owner) -> dict[str, Any]:
    store = _store(state, owner)
    return {
        "manuscripts": [
            {"id": m.id, "title": m.title, "documents": len(m.documents), "attribution": m.attribution()}
            for m in await asyncio.to_thread(store.list)
        ]
    }


@router.post(
    "",
    status_code=201,
    openapi_extra=openapi_body(object_schema(["title"], title={"type": "string"}, text={"type": "string"})),
)
async def create_manuscript(request: Request, state: State, owner: Owner) -> dict[str, Any]:
    """{title, text?}: a new manuscript; `text` (Markdown: one document per heading) is imported."""
    from fabula.service.drafts import split_chapters

    data = parse_json(await request.body())
    title = check_text("title", data.get("title"))
    text = check_text("text", data.get("text", ""), allow_empty=True)
    store = _store(state, owner)
    manuscript = await asyncio.to_thread(store.create, title)
    if text.strip():
        with store.changing(manuscript.id) as changed:
            for heading, body in split_chapters(text, "Chapter 1"):
                changed.add(heading, body)
        manuscript = changed
    return _manuscript_json(manuscript)


@router.get("/{manuscript_id}")
async def get_manuscript(store: Manuscripts, manuscript_id: str) -> dict[str, Any]:
    return _manuscript_json(await asyncio.to_thread(store.load, manuscript_id))


@router.post(
    "/{manuscript_id}/documents",
    status_code=201,
    openapi_extra=openapi_body(
        object_schema(
            ["title"],
            title={"type": "string"},
            text={"type": "string"},
            kind={"type": "string", "enum": ["chapter", "scene", "note", "poem"]},
            form={"type": "string", "description": "a poem's verse form: haiku, sonnet, limerick, ..."},
        )
    ),
)
async def add_document(request: Request, store: Manuscripts, manuscript_id: str) -> dict[str, Any]:
    """{title, text?, kind?, form?}: a new document; a poem with a form is continued inside it."""
    data = parse_json(await request.body())
    title = check_text("title", data.get("title"))
    text = check_text("text", data.get("text", ""), allow_empty=True)
    kind = check_text("kind", data.get("kind", "chapter"))
    form = check_text("form", data.get("form", ""), allow_empty=True)
    with store.changing(manuscript_id) as manuscript:
        doc = manuscript.add(title, text, kind, form)
    return _doc_json(doc)


@router.put(
    "/{manuscript_id}/documents/{doc_id}",
    openapi_extra=openapi_body(object_schema(["text"], text={"type": "string"})),
)
async def edit_document(request: Request, store: Manuscripts, manuscript_id: str, doc_id: str) -> dict[str, Any]:
    """The writer's edit (autosave): the document's whole new text; attribution follows it."""
    data = parse_json(await request.body())
    text = check_text("text", data.get("text"), allow_empty=True)
    with store.changing(manuscript_id) as manuscript:
        doc = manuscript.document(doc_id)
        doc.edit(text)
    return _doc_json(doc)


@router.post("/{manuscript_id}/documents/{doc_id}/verbs/{verb}", openapi_extra=openapi_body(VERB_SCHEMA))
async def run_verb(
    request: Request, state: State, owner: Owner, store: Manuscripts, manuscript_id: str, doc_id: str, verb: str
) -> Any:
    """A co-writing verb on the document's current text: candidates, the chosen one applied
    (editing verbs), and the provenance with the attribution after it."""
    from fabula.api.engine_runner import run_blocking
    from fabula.api.requests import parse_params
    from fabula.service.drafts import VerbCall, outcome_json, run_call, so_far

    if verb not in VERBS:
        raise InvalidParam("verb", verb, f"one of: {', '.join(VERBS)}")
    data = parse_json(await request.body())
    unknown = sorted(set(data) - set(VERB_SCHEMA["properties"]))
    if unknown:
        raise InvalidParam(unknown[0], data[unknown[0]], f"a verb takes: {', '.join(VERB_SCHEMA['properties'])}")
    sampling: dict[str, Any] = {k: data[k] for k in ("seed", "temperature", "max_tokens") if k in data}
    params = parse_params(sampling, default_max_tokens=120)
    choose = data.get("choose")
    if choose is not None and (isinstance(choose, bool) or not isinstance(choose, int) or choose < 0):
        raise InvalidParam("choose", choose, "a candidate's number, 1 or more (0: apply none)")
    n = data.get("n", 3)
    if isinstance(n, bool) or not isinstance(n, int):
        raise InvalidParam("n", n, "from 1 to 8 candidates")
    instruction = check_text("instruction", data.get("instruction", ""), allow_empty=True)
    lead = check_text("lead", data.get("lead", ""), allow_empty=True)
    call = VerbCall(
        verb,
        _int(data, "start"),
        _int(data, "end"),
        instruction,
        n,
        lead,
        params.seed,
        None if choose is None else (-1 if choose == 0 else choose - 1),
        backend=state.backend_now(),
    )
    if instruction:
        state.policy.enforce(instruction, "prompt")

    stream = data.get("stream", False)
    if not isinstance(stream, bool):
        raise InvalidParam("stream", stream, "must be true or false")

    def work() -> dict[str, Any]:
        with store.changing(manuscript_id) as manuscript:
            doc = manuscript.document(doc_id)
            recap = so_far(manuscript, doc)
            outcome = run_call(doc, manuscript.entries(), call, params, state.settings, recap)
        return outcome_json(doc, outcome, params) | {"head": doc.head}

    if not stream:
        return await run_blocking(state.gate, work, user=owner, disconnected=request.is_disconnected)
    return _streamed(state, owner, call, work)


def _streamed(state: Any, owner: str | None, call: Any, work: Any) -> Any:
    """The verb as server-sent events: `{"attempt": k, "delta": ...}` while candidates are written
    (attempts in the order generated, resampled ones too), then `{"result": ...}` (what the plain
    answer holds, saved before it is sent) or `{"error": ...}`, then `[DONE]`."""
    import json

    from fastapi.responses import StreamingResponse

    from fabula.api.engine_runner import admit, stream_completion
    from fabula.api.errors import error_body

    release = admit(state.gate, owner)  # a full queue is a 429 before any 200

    def run(emit: Any) -> dict[str, Any]:
        call.on_text = lambda attempt, delta: emit(json.dumps({"attempt": attempt, "delta": delta}))
        return work()  # type: ignore[no-any-return]

    async def events() -> Any:
        async for kind, value in stream_completion(state.gate, run, owner, release):
            if kind == "delta":
                yield f"data: {value}\n\n"
            elif kind == "done":
                yield f"data: {json.dumps({'result': value}, ensure_ascii=False)}\n\n"
            else:
                yield f"data: {json.dumps(error_body(value)[1], ensure_ascii=False)}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


@router.get("/{manuscript_id}/documents/{doc_id}/history")
async def history(store: Manuscripts, manuscript_id: str, doc_id: str) -> dict[str, Any]:
    doc = (await asyncio.to_thread(store.load, manuscript_id)).document(doc_id)
    return {"head": doc.head, "nodes": doc.tree()}


@router.get("/{manuscript_id}/documents/{doc_id}/nodes/{node_id}")
async def node(store: Manuscripts, manuscript_id: str, doc_id: str, node_id: str) -> dict[str, Any]:
    """One version: its text and every candidate its verb offered."""
    doc = (await asyncio.to_thread(store.load, manuscript_id)).document(doc_id)
    found = doc.get(node_id)
    return found.summary() | {
        "text": found.text,
        "candidates_offered": found.candidates,
        "instruction": found.instruction,
    }


@router.get("/{manuscript_id}/documents/{doc_id}/diff")
async def diff(store: Manuscripts, manuscript_id: str, doc_id: str, a: str, b: str | None = None) -> dict[str, str]:
    doc = (await asyncio.to_thread(store.load, manuscript_id)).document(doc_id)
    return {"a": a, "b": b or doc.head, "diff": doc.diff(a, b or doc.head)}


@router.post(
    "/{manuscript_id}/documents/{doc_id}/move",
    openapi_extra=openapi_body(
        object_schema(
            ["to"],
            to={"type": "string", "enum": ["undo", "redo", "restore", "swipe"]},
            node={"type": "string"},
            candidate={"type": "integer", "minimum": 1},
        )
    ),
)
async def move(request: Request, store: Manuscripts, manuscript_id: str, doc_id: str) -> dict[str, Any]:
    """{to: undo | redo | restore (node) | swipe (node, candidate)}: move in the history tree."""
    data = parse_json(await request.body())
    to = data.get("to")
    with store.changing(manuscript_id) as manuscript:
        doc = manuscript.document(doc_id)
        if to == "undo":
            doc.undo()
        elif to == "redo":
            doc.redo()
        elif to == "restore":
            doc.restore(check_text("node", data.get("node")))
        elif to == "swipe":
            candidate = data.get("candidate")
            if isinstance(candidate, bool) or not isinstance(candidate, int) or candidate < 1:
                raise InvalidParam("candidate", candidate, "a candidate's number, 1 or more")
            doc.swipe(check_text("node", data.get("node")), candidate - 1)
        else:
            raise InvalidParam("to", to, "one of: undo, redo, restore, swipe")
    return _doc_json(doc)


@router.get("/{manuscript_id}/bible")
async def get_bible(store: Manuscripts, manuscript_id: str, format: str | None = None) -> Any:  # noqa: A002
    """The bible's entries; `?format=sillytavern|novelai` gives it as that program's file."""
    from fabula.cowrite.lorebook import lorebook_json

    manuscript = await asyncio.to_thread(store.load, manuscript_id)
    if format is None:
        return {"entries": manuscript.bible}
    return lorebook_json(manuscript.bible, manuscript.lore_meta, format)


@router.post("/{manuscript_id}/bible", status_code=201, openapi_extra=openapi_body(BIBLE_SCHEMA))
async def add_entry(request: Request, store: Manuscripts, manuscript_id: str) -> dict[str, Any]:
    """One entry by hand: {kind?, name, text, keywords?}."""
    from fabula.plan.bible import Entry

    data = parse_json(await request.body())
    keywords = data.get("keywords", [])
    if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
        raise InvalidParam("keywords", keywords, "a list of strings")
    entry = Entry(data.get("kind", "fact"), check_text("name", data.get("name")), check_text("text", data.get("text")))
    with store.changing(manuscript_id) as manuscript:
        manuscript.bible.append(
            {"kind": entry.kind, "name": entry.name, "text": entry.text, "keywords": keywords, "enabled": True}
        )
    return {"entries": manuscript.bible}


@router.post(
    "/{manuscript_id}/bible/import",
    openapi_extra=openapi_body(object_schema(["lorebook"], lorebook={"type": "object"})),
)
async def import_bible(request: Request, store: Manuscripts, manuscript_id: str) -> dict[str, Any]:
    """{lorebook: a SillyTavern World Info or NovelAI lorebook object}: replaces the bible."""
    from fabula.cowrite.lorebook import parse_lorebook

    data = parse_json(await request.body())
    entries, meta = parse_lorebook(data.get("lorebook"), "lorebook")
    with store.changing(manuscript_id) as manuscript:
        manuscript.bible, manuscript.lore_meta = entries, meta
    return {"entries": entries, "format": meta["format"]}


@router.get("/{manuscript_id}/export")
async def export(state: State, store: Manuscripts, manuscript_id: str, format: str = "md") -> Response:  # noqa: A002
    """The manuscript as a file (md, txt, docx, epub, json), with its provenance manifest (who
    wrote what; signed where the server has a key) as base64 JSON in `X-Fabula-Provenance`."""
    import base64
    import tempfile
    from pathlib import Path

    from fabula.service.drafts import EXPORTS, export_manuscript

    suffix = "." + format.lower().lstrip(".")
    if suffix not in EXPORTS:
        raise InvalidParam("format", format, f"a manuscript exports as {', '.join(s.lstrip('.') for s in EXPORTS)}")
    manuscript = await asyncio.to_thread(store.load, manuscript_id)

    def render() -> tuple[bytes, str]:
        with tempfile.TemporaryDirectory() as scratch:
            path, sidecar = export_manuscript(manuscript, Path(scratch) / f"{manuscript.id}{suffix}", state.settings)
            return path.read_bytes(), sidecar.read_text(encoding="utf-8")

    body, manifest = await asyncio.to_thread(render)
    media = {
        ".md": "text/markdown; charset=utf-8",
        ".txt": "text/plain; charset=utf-8",
        ".json": "application/json",
        ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ".epub": "application/epub+zip",
        ".fountain": "text/plain; charset=utf-8",
    }[suffix]
    headers = {
        "Content-Disposition": f'attachment; filename="{manuscript.id}{suffix}"',
        "X-Fabula-Provenance": base64.b64encode(manifest.encode("utf-8")).decode(),
    }
    return Response(body, media_type=media, headers=headers)
