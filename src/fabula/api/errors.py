"""Errors as HTTP answers in the OpenAI shape: {"error": {"message", "type", "param", "code"}}.

Bad input is a 4xx naming the parameter; a busy server is a 429 with Retry-After; an engine that
fails is a 503 when trying again can help, else a 502. Nothing fabula raises on purpose becomes a
500, and the server stays up whatever a request contains.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from fabula.api.auth import Unauthorized
from fabula.api.engine_runner import Busy
from fabula.api.jobs import Conflict
from fabula.errors import BackendError, ConfigError, FabulaError, FormError, InvalidParam, NotFound, Rejected


def error_body(exc: BaseException) -> tuple[int, dict[str, Any]]:
    status, kind, param = 500, "server_error", None
    if isinstance(exc, InvalidParam):
        status, kind, param = (
            (413 if exc.name == "body" and "bytes" in str(exc.value) else 400),
            "invalid_request_error",
            exc.name,
        )
    elif isinstance(exc, FormError):
        status, kind, param = 400, "invalid_request_error", "fabula.inputs"
    elif isinstance(exc, Unauthorized):
        status, kind = 401, "authentication_error"
    elif isinstance(exc, NotFound):
        status, kind = 404, "not_found_error"
    elif isinstance(exc, Conflict):
        status, kind = 409, "conflict_error"
    elif isinstance(exc, Busy):
        status, kind = 429, "rate_limit_error"
    elif isinstance(exc, Rejected):
        status, kind = 422, "rejected"
    elif isinstance(exc, BackendError):
        status, kind = (503 if exc.retryable else 502), "engine_error"
    elif isinstance(exc, ConfigError):
        status, kind = 503, "configuration_error"
    message = str(exc) if isinstance(exc, FabulaError) else "internal error"
    return status, {"error": {"message": message, "type": kind, "param": param, "code": None}}


def install(app: FastAPI) -> None:
    async def handle(_request: Request, exc: Exception) -> JSONResponse:
        status, body = error_body(exc)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, Busy) else None
        if isinstance(exc, Unauthorized):
            headers = {"WWW-Authenticate": "Bearer"}
        return JSONResponse(body, status_code=status, headers=headers)

    app.add_exception_handler(FabulaError, handle)
