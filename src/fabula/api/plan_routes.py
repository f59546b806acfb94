"""/api/plans: long forms written level by level, co-written over HTTP like `fabula plan ...`.

Writing a plan takes minutes, so creating, resuming and regenerating start a job (202 with its
id; GET /api/jobs/{id} shows the step being written). Reading, editing a level, undo and the
story bible answer at once. A plan belongs to the user who made it (its own folder), and every
route answers 404 for a plan of someone else. The finished plan is saved as a work, reviewed
like any other (safety, originality, provenance).
"""

from __future__ import annotations

import time
from dataclasses import asdict
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from fabula.api.deps import Owner, State
from fabula.api.requests import check_text, object_schema, openapi_body, parse_json, sampling_schema
from fabula.errors import InvalidParam

router = APIRouter(prefix="/api/plans")

PLAN_SCHEMA = object_schema(
    ["logline"],
    kind={"type": "string", "enum": ["screenplay", "story"]},
    logline={"type": "string"},
    template={"type": "string", "enum": ["three-act", "hero-journey", "save-the-cat", "kishotenketsu", "five-act"]},
    cast={"type": "integer", "minimum": 2, "maximum": 6},
    context={"type": "boolean"},
    **sampling_schema("seed", "temperature"),
)
BIBLE_SCHEMA = object_schema(
    ["name", "text"],
    kind={"type": "string", "enum": ["character", "place", "fact", "style"]},
    name={"type": "string"},
    text={"type": "string"},
    keywords={"type": "array", "items": {"type": "string"}},
)


def _plans(state: Any, owner: str | None) -> Any:
    from fabula.service.plans import plan_store

    return plan_store(state.settings, owner)


def _summary(plan: Any) -> dict[str, Any]:
    steps = plan.steps()
    return {
        "id": plan.id,
        "kind": plan.kind,
        "logline": plan.logline,
        "title": plan.title,
        "template": plan.template,
        "steps_done": len(steps) - len(plan.pending()),
        "steps": len(steps),
        "created_at": plan.created_at,
    }


def _levels(plan: Any) -> dict[str, str]:
    """Each written level (and each scene's dialogue or chapter) in its editable text form."""
    from fabula.plan.cowrite import editable_text
    from fabula.plan.model import TOP_LEVELS

    out = {}
    targets = [*TOP_LEVELS, *(f"{plan.unit_level}[{i}]" for i in sorted(plan.units))]
    for target in targets:
        if target in TOP_LEVELS and getattr(plan, target) is None:
            continue
        out[target] = editable_text(plan, target)
    return out


def _params(data: dict[str, Any]) -> Any:
    from fabula.api.requests import parse_params

    sampling: dict[str, Any] = {k: data[k] for k in ("temperature", "seed") if k in data}
    return parse_params(sampling, default_max_tokens=256)


def _job(request: Request, owner: str | None, kind: str, plan: Any, action: Any) -> JSONResponse:
    """Run `action(writer)` for the plan as a job; at the end the plan is saved as a work."""
    state = request.app.state.fabula

    def work(progress: Any) -> dict[str, Any]:
        from fabula.service.plans import finish_plan, plan_writer

        started = time.perf_counter()

        def on_step(step: str, index: int, total: int) -> None:
            progress(step=step, done=index, total=total)

        writer = plan_writer(plan, state.settings, on_step=on_step, owner=owner, backend=state.backend_now())
        plan.engine = state.settings.engine
        with state.gate.slot(owner):
            redone = action(writer)
        progress(step="review", done=len(plan.steps()), total=len(plan.steps()))
        saved = finish_plan(plan, writer, state.settings, started=started, owner=owner, store=state.works()).work
        return {"plan_id": plan.id, "work_id": saved.id, "passed": saved.passed, "redone": redone}

    job = state.jobs.submit(owner, kind, {"plan_id": plan.id}, work, resource=f"plan {plan.id}")
    return JSONResponse({"plan_id": plan.id, "job": job}, status_code=202)


def _write_pending(writer: Any, plan: Any) -> list[str]:
    """Write every step still missing; nothing is redone (the job's `redone` list stays empty)."""
    writer.run(plan)
    return []


async def _load(request: Request, plan_id: str, changing: bool = False) -> tuple[Any, str | None, Any, Any]:
    """(state, owner, the owner's plan store, the plan); 404 for another user's plan, 409 when
    `changing` a plan that a job is writing."""
    state = request.app.state.fabula
    owner = await state.owner(request)
    plans = _plans(state, owner)
    plan = plans.load(plan_id)
    if changing:
        state.jobs.check_free(f"plan {plan.id}")
    return state, owner, plans, plan


@router.get("")
async def list_plans(state: State, owner: Owner) -> dict[str, Any]:
    return {"plans": [_summary(p) for p in _plans(state, owner).list()]}


@router.post("", status_code=202, openapi_extra=openapi_body(PLAN_SCHEMA))
async def create_plan(request: Request, state: State, owner: Owner) -> JSONResponse:
    """Start a plan: {kind, logline, template?, cast?, context?, seed?, temperature?} -> 202 {plan_id, job}."""
    import asyncio

    from fabula.service.plans import start_plan

    data = parse_json(await request.body())
    unknown = sorted(set(data) - set(PLAN_SCHEMA["properties"]))
    if unknown:
        raise InvalidParam(unknown[0], data[unknown[0]], f"a plan takes: {', '.join(PLAN_SCHEMA['properties'])}")
    logline = check_text("logline", data.get("logline"))
    cast = data.get("cast", 4)
    if isinstance(cast, bool) or not isinstance(cast, int):  # JSON has numbers: "2" is not one
        raise InvalidParam("cast", cast, "a whole number of main characters, 2 to 6")
    if not isinstance(data.get("context", True), bool):
        raise InvalidParam("context", data["context"], "true (each unit told the story so far) or false")
    inputs: dict[str, Any] = {k: data[k] for k in ("template", "cast", "context") if k in data}
    plan = await asyncio.to_thread(
        start_plan, data.get("kind", "screenplay"), logline, inputs, _params(data), state.settings, owner
    )
    return _job(request, owner, "plan", plan, partial(_write_pending, plan=plan))


@router.get("/{plan_id}")
async def get_plan(request: Request, plan_id: str) -> dict[str, Any]:
    """The plan's levels as editable text, its consistency report and its bible."""
    from fabula.plan.consistency import check_plan

    state, owner, _, plan = await _load(request, plan_id)
    return _summary(plan) | {
        "levels": _levels(plan),
        "pending": plan.pending(),
        "consistency": check_plan(plan),
        "bible": [asdict(e) for e in plan.bible],
        "undo": [h.get("label") for h in plan.history],
    }


@router.put(
    "/{plan_id}/levels/{target}",
    openapi_extra=openapi_body(object_schema(["text"], text={"type": "string"}, cascade={"type": "boolean"})),
)
async def edit_level(request: Request, plan_id: str, target: str) -> dict[str, Any]:
    """Replace a level with hand-written text ({text, cascade?}); the text must parse or nothing changes."""
    from fabula.plan.cowrite import edit
    from fabula.plan.entities import PlanParseError

    state, owner, plans, plan = await _load(request, plan_id, changing=True)
    data = parse_json(await request.body())
    text = check_text("text", data.get("text"))
    cascade = data.get("cascade", False)
    if not isinstance(cascade, bool):
        raise InvalidParam("cascade", cascade, "must be true or false")
    state.policy.enforce(text, "prompt")
    try:
        cleared = edit(plan, target, text, cascade)
    except PlanParseError as exc:
        raise InvalidParam("text", target, str(exc)) from None
    plans.save(plan)
    return {"plan_id": plan.id, "edited": target, "cleared": cleared, "levels": _levels(plan)}


@router.post(
    "/{plan_id}/regenerate",
    status_code=202,
    openapi_extra=openapi_body(object_schema(["target"], target={"type": "string"})),
)
async def regenerate_level(request: Request, plan_id: str) -> JSONResponse:
    """Write one level again with a new seed ({target: "characters[1]" | "scenes[2]" | ...})."""
    from fabula.plan.cowrite import parse_target, regenerate

    state, owner, _, plan = await _load(request, plan_id)
    target = check_text("target", parse_json(await request.body()).get("target"))
    parse_target(plan, target)  # a bad target is a 400 now, not a failed job later
    return _job(request, owner, "plan-regenerate", plan, lambda writer: regenerate(writer, plan, target))


@router.post("/{plan_id}/resume", status_code=202)
async def resume_plan(request: Request, plan_id: str) -> JSONResponse:
    state, owner, _, plan = await _load(request, plan_id)
    return _job(request, owner, "plan-resume", plan, partial(_write_pending, plan=plan))


@router.post("/{plan_id}/undo")
async def undo(request: Request, plan_id: str) -> dict[str, Any]:
    state, owner, plans, plan = await _load(request, plan_id, changing=True)
    label = plan.undo()
    plans.save(plan)
    return {"plan_id": plan.id, "undone": label, "levels": _levels(plan)}


@router.get("/{plan_id}/bible")
async def bible_list(request: Request, plan_id: str) -> dict[str, Any]:
    plan = (await _load(request, plan_id))[3]
    return {"bible": [asdict(e) for e in plan.bible]}


@router.post("/{plan_id}/bible", status_code=201, openapi_extra=openapi_body(BIBLE_SCHEMA))
async def bible_add(request: Request, plan_id: str) -> dict[str, Any]:
    """Add an entry {kind: character|place|fact|style, name, text, keywords?: [..]}."""
    from fabula.plan.bible import KINDS, Entry

    state, owner, plans, plan = await _load(request, plan_id, changing=True)
    data = parse_json(await request.body())
    kind = data.get("kind", "fact")
    if kind not in KINDS:
        raise InvalidParam("kind", kind, f"bible entries are: {', '.join(KINDS)}")
    name = check_text("name", data.get("name")).strip()
    text = check_text("text", data.get("text"))
    keywords = data.get("keywords", [])
    if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
        raise InvalidParam("keywords", keywords, "must be a list of words")
    state.policy.enforce(text, "prompt")
    plan.add_to_bible(Entry(kind, name, " ".join(text.split()), tuple(k.strip() for k in keywords if k.strip())))
    plans.save(plan)
    return {"bible": [asdict(e) for e in plan.bible]}


@router.delete("/{plan_id}/bible/{name}")
async def bible_remove(request: Request, plan_id: str, name: str) -> dict[str, Any]:
    state, owner, plans, plan = await _load(request, plan_id, changing=True)
    plan.remove_from_bible(name)
    plans.save(plan)
    return {"bible": [asdict(e) for e in plan.bible]}
