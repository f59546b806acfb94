"""Errors as HTTP answers in the OpenAI shape: {"error": {"message", "type", "param", "code"}}.

The status follows the error's type, never its message: one table below maps each kind that
`fabula.errors` declares to a status and an OpenAI error type. Bad input is a 4xx naming the
parameter; a busy server is a 429 with Retry-After; an engine that fails is a 503 when trying again
can help, else a 502; a full disk is a 507. Nothing fabula raises on purpose becomes a 500, and
request-shape errors found by FastAPI itself (a query parameter of the wrong type, an unknown
route) use the same shape.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException

from fabula.cancel import Cancelled
from fabula.errors import (
    BackendError,
    Busy,
    ConfigError,
    Conflict,
    ExportError,
    FabulaError,
    Forbidden,
    FormError,
    InvalidParam,
    KeyReused,
    NotFound,
    OutOfSpace,
    Rejected,
    TooLarge,
    Unauthorized,
)

# most specific first: the first row whose type matches decides
STATUS: list[tuple[type[BaseException], int, str]] = [
    (TooLarge, 413, "invalid_request_error"),
    (InvalidParam, 400, "invalid_request_error"),
    (FormError, 400, "invalid_request_error"),
    (Unauthorized, 401, "authentication_error"),
    (Forbidden, 403, "permission_error"),
    (NotFound, 404, "not_found_error"),
    (Conflict, 409, "conflict_error"),
    (Rejected, 422, "rejected"),
    (KeyReused, 422, "idempotency_error"),
    (ExportError, 422, "export_error"),
    (Busy, 429, "rate_limit_error"),
    (OutOfSpace, 507, "insufficient_storage"),
    (ConfigError, 503, "configuration_error"),
]
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}
_WHY = {
    400: "a parameter is missing or wrong; `param` names it",
    401: "no key, or an unknown, revoked or expired one (users mode)",
    403: "another site's page, or another user's voice",
    404: "no such record (someone else's is answered the same way)",
    409: "the record is busy (a plan a job is writing), or local mode has nothing to sign in to",
    413: "the body is over the limit (4 MB)",
    422: "every candidate was rejected, or an Idempotency-Key was reused for another request",
    429: "the queue is full, or too many failed sign-ins; see Retry-After",
    502: "the engine failed",
    503: "the engine failed and trying again may help, or a setting is wrong",
    507: "the server's disk is full; nothing was kept",
}
# every route lists the answers the server may give besides its success (OpenAPI `responses`)
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"description": why, "content": {"application/json": {"schema": ERROR_SCHEMA}}} for code, why in _WHY.items()
}
HTTP_TYPES = {400: "invalid_request_error", 404: "not_found_error", 405: "invalid_request_error"}


def error_body(exc: BaseException) -> tuple[int, dict[str, Any]]:
    status, kind, param = 500, "server_error", None
    for cls, code, name in STATUS:
        if isinstance(exc, cls):
            status, kind = code, name
            break
    else:
        if isinstance(exc, BackendError):
            status, kind = (503 if exc.retryable else 502), "engine_error"
    if isinstance(exc, InvalidParam):
        param = exc.name
    elif isinstance(exc, FormError):
        param = "fabula.inputs"
    elif isinstance(exc, TooLarge):
        param = getattr(exc, "param", None) or "body"
    message = str(exc) if isinstance(exc, FabulaError) else "internal error"
    return status, {"error": {"message": message, "type": kind, "param": param, "code": None}}


def headers_for(exc: BaseException) -> dict[str, str] | None:
    if isinstance(exc, Busy):
        return {"Retry-After": str(exc.retry_after)}
    if isinstance(exc, Unauthorized):
        return {"WWW-Authenticate": "Bearer"}
    return None


def install(app: FastAPI) -> None:
    async def handle(_request: Request, exc: Exception) -> JSONResponse:
        status, body = error_body(exc)
        return JSONResponse(body, status_code=status, headers=headers_for(exc))

    async def invalid(_request: Request, exc: Exception) -> JSONResponse:
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        first = errors[0] if errors else {}
        where = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
        param = ".".join(where) or None
        message = f"{param}: {first.get('msg', 'invalid value')}" if param else str(first.get("msg", "invalid"))
        body = {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": None}}
        return JSONResponse(body, status_code=400)

    async def http_error(_request: Request, exc: Exception) -> JSONResponse:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
        kind = HTTP_TYPES.get(status, "invalid_request_error" if status < 500 else "server_error")
        body = {"error": {"message": str(detail), "type": kind, "param": None, "code": None}}
        return JSONResponse(body, status_code=status, headers=getattr(exc, "headers", None))

    async def gone(_request: Request, _exc: Exception) -> Response:
        # the client left and its generation was stopped: nobody reads this (nginx's 499)
        return Response(status_code=499)

    async def storage(request: Request, exc: Exception) -> Response:
        # a full disk wherever it is met (the database, a plan file, a job's progress): 507
        from fabula.files import is_full_disk, out_of_space

        if is_full_disk(exc):
            return await handle(request, out_of_space("the server's data folder"))
        status, body = error_body(exc)
        return JSONResponse(body, status_code=status)

    app.add_exception_handler(FabulaError, handle)
    app.add_exception_handler(OSError, storage)
    app.add_exception_handler(OperationalError, storage)
    app.add_exception_handler(Cancelled, gone)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)
