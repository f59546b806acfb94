"""Continuity over HTTP: check any manuscript, and a plan's ledger with the writer's pins.

`POST /api/continuity/check {text, cast?}` answers the `fabula continuity check --json` report;
`GET /api/plans/{id}/ledger` the plan's ledger, contradictions, summaries and pins;
`POST /api/plans/{id}/ledger/pins {entity, attribute, value, from}` pins a fact and
`DELETE /api/plans/{id}/ledger/pins/{number}` removes one. A plan of another user is a 404.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request

from fabula.api.plan_routes import _load
from fabula.api.requests import check_text, object_schema, openapi_body, parse_json
from fabula.continuity.ledger import PINNABLE
from fabula.errors import InvalidParam

router = APIRouter()

CHECK_SCHEMA = object_schema(["text"], text={"type": "string"}, cast={"type": "array", "items": {"type": "string"}})
PIN_SCHEMA = object_schema(
    ["entity", "attribute", "value", "from"],
    entity={"type": "string"},
    attribute={"type": "string", "enum": list(PINNABLE)},
    value={"type": "string"},
    **{"from": {"type": "integer", "minimum": 1}},
)


@router.post("/api/continuity/check", openapi_extra=openapi_body(CHECK_SCHEMA))
async def check(request: Request) -> dict[str, Any]:
    """The ledger and contradictions of a manuscript sent as Markdown or plain text."""
    from fabula.service.continuity import check_manuscript_text

    data = parse_json(await request.body())
    unknown = sorted(set(data) - {"text", "cast"})
    if unknown:
        raise InvalidParam(unknown[0], data[unknown[0]], "a check takes text and cast")
    text = check_text("text", data.get("text"))
    cast = data.get("cast", [])
    if not isinstance(cast, list) or not all(isinstance(n, str) for n in cast):
        raise InvalidParam("cast", cast, "a list of character names")
    return await asyncio.to_thread(check_manuscript_text, text, tuple(n for n in cast if n.strip()))


@router.get("/api/plans/{plan_id}/ledger")
async def plan_ledger(request: Request, plan_id: str) -> dict[str, Any]:
    from fabula.service.continuity import plan_ledger

    plan = (await _load(request, plan_id))[3]
    return await asyncio.to_thread(plan_ledger, plan)


@router.post("/api/plans/{plan_id}/ledger/pins", status_code=201, openapi_extra=openapi_body(PIN_SCHEMA))
async def pin(request: Request, plan_id: str) -> dict[str, Any]:
    """Pin a fact true from unit `from` on; the plan's later units are checked against it."""
    from fabula.service.continuity import add_pin

    _, _, plans, plan = await _load(request, plan_id, changing=True)
    data = parse_json(await request.body())
    unknown = sorted(set(data) - set(PIN_SCHEMA["properties"]))
    if unknown:
        raise InvalidParam(unknown[0], data[unknown[0]], "a pin takes entity, attribute, value and from")
    unit = data.get("from")
    if isinstance(unit, bool) or not isinstance(unit, int):
        raise InvalidParam("from", unit, "the first unit the fact holds for, a whole number from 1")
    entity, attribute, value = (check_text(k, data.get(k)) for k in ("entity", "attribute", "value"))
    added = add_pin(plan, entity, attribute, value, unit)
    plans.save(plan)
    return {"pin": added, "pins": len(plan.pins)}


@router.delete("/api/plans/{plan_id}/ledger/pins/{number}")
async def unpin(request: Request, plan_id: str, number: int) -> dict[str, Any]:
    from fabula.service.continuity import remove_pin

    _, _, plans, plan = await _load(request, plan_id, changing=True)
    gone = remove_pin(plan, number)
    plans.save(plan)
    return {"removed": gone, "pins": len(plan.pins)}
