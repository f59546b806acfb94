"""The app factory: `create_app(settings)` builds everything; importing this module builds nothing.

State per app: the settings, the safety policy, the engine gate (bounded queue), and the engine,
loaded on first use (so the app starts at once and `/healthz` answers while a model loads).
Responses carry a strict Content-Security-Policy and no-sniff; bodies over the limit are refused
before they are read whole.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from fabula import __version__
from fabula.api import errors
from fabula.api.engine_runner import EngineGate
from fabula.api.jobs import JobRunner
from fabula.api.requests import MAX_BODY_BYTES
from fabula.settings import Settings, get_settings

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


class AppState:
    def __init__(self, settings: Settings) -> None:
        from fabula.responsible.safety import SafetyPolicy
        from fabula.store.db import open_engine

        self.settings = settings
        self.db = open_engine(settings.db_url)
        self.policy = SafetyPolicy.parse(settings.safety)
        self.gate = EngineGate(settings.api_max_queue)
        self.jobs = JobRunner(self.db)
        self.started = time.time()
        self._backend: Any = None
        self._loading = asyncio.Lock()
        self._loading_sync = threading.Lock()

    async def backend(self) -> Any:
        if self._backend is None:
            async with self._loading:
                await asyncio.get_running_loop().run_in_executor(None, self.backend_now)
        return self._backend

    def backend_now(self) -> Any:
        """The engine, from a worker thread (jobs): loaded here if no request has loaded it yet."""
        if self._backend is None:
            with self._loading_sync:
                if self._backend is None:
                    from fabula.backends import get_backend

                    s = self.settings
                    self._backend = get_backend(s.engine, s.model, s)
        return self._backend

    async def owner(self, request: Request) -> str | None:
        """Who is asking: None in local single-user mode (see fabula.api.auth)."""
        from fabula.api.auth import user_for

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, user_for, self.db, request.headers.get("authorization"))

    def works(self) -> Any:
        from fabula.store.works import WorkStore

        return WorkStore(self.db)

    def write_form(
        self, backend: Any, form: Any, request: Any, on_text: Any, owner: str | None = None, key: str | None = None
    ) -> Any:
        """A form through the pipeline, reviewed and saved like `fabula write` does."""
        from fabula.pipeline import write
        from fabula.responsible.review import review_and_save

        prompt = request.messages[-1].content
        work = write(backend, form.form, prompt, form.inputs, request.params, on_text, safety=self.policy)
        return review_and_save(work, self.settings, self.works(), safety=self.policy, owner=owner, idempotency_key=key)


class Guard:
    """Pure ASGI middleware (no buffering of streamed bodies): refuse an oversized body up front,
    and add the security headers to every response."""

    HEADERS = [
        (b"content-security-policy", CSP.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
    ]

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            body = {
                "error": {
                    "message": f"body over {MAX_BODY_BYTES} bytes",
                    "type": "invalid_request_error",
                    "param": "body",
                    "code": None,
                }
            }
            await JSONResponse(body, status_code=413)(scope, receive, self._with_headers(send))
            return
        await self.app(scope, receive, self._with_headers(send))

    def _with_headers(self, send: Any) -> Any:
        async def wrapped(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self.HEADERS]}
            await send(message)

        return wrapped


def create_app(settings: Settings | None = None) -> FastAPI:
    from fabula.api.job_routes import router as job_router
    from fabula.api.openai_routes import router as openai_router
    from fabula.api.plan_routes import router as plan_router
    from fabula.api.stream_routes import router as stream_router
    from fabula.api.works_routes import router as works_router

    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.fabula.jobs.shutdown()

    app = FastAPI(
        title="fabula", version=__version__, description="Creative writing with measured controls.", lifespan=lifespan
    )
    app.state.fabula = AppState(settings)
    app.add_middleware(Guard)
    errors.install(app)
    app.include_router(openai_router)
    app.include_router(works_router)
    app.include_router(plan_router)
    app.include_router(job_router)
    app.include_router(stream_router)

    from importlib import resources

    from fastapi.responses import FileResponse
    from fastapi.staticfiles import StaticFiles

    static = resources.files("fabula.api").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    @app.get("/", include_in_schema=False)
    async def studio() -> FileResponse:
        """The web studio: one page, its script and style from /static, no inline code."""
        return FileResponse(str(static.joinpath("index.html")), media_type="text/html")

    @app.get("/healthz")
    async def health() -> dict[str, Any]:
        state = app.state.fabula
        return {"ok": True, "version": __version__, "engine": settings.engine, "in_use": state.gate.in_use}

    return app
