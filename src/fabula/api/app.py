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
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request

from fabula import __version__
from fabula.api import errors
from fabula.api.engine_runner import EngineGate
from fabula.api.guard import Guard
from fabula.api.idempotency import KeyLocks
from fabula.api.jobs import JobRunner
from fabula.settings import Settings, get_settings


class AppState:
    def __init__(self, settings: Settings) -> None:
        from fabula.responsible.safety import SafetyPolicy
        from fabula.store.db import open_engine

        self.settings = settings
        self.db = open_engine(settings.db_url)
        self.policy = SafetyPolicy.parse(settings.safety)
        self.gate = EngineGate(settings.api_max_queue)
        self.jobs = JobRunner(self.db, settings.api_job_workers, settings.api_jobs_per_user)
        self.key_locks = KeyLocks()
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
        """Who is asking: None in local single-user mode (see fabula.store.users)."""
        from fabula.store.users import user_for

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, user_for, self.db, request.headers.get("authorization"))

    def works(self) -> Any:
        from fabula.store.works import WorkStore

        return WorkStore(self.db)

    def write_form(
        self,
        form: Any,
        request: Any,
        on_text: Any,
        owner: str | None = None,
        key: Any = None,
        client_user: str | None = None,
    ) -> Any:
        """A form through the write service, exactly as `fabula write` runs it: the same engine
        choice, voice, review, saving and Markdown copy."""
        from fabula.service.write import WriteJob, run_write

        job = WriteJob(
            form.form,
            request.messages[-1].content,
            form.inputs,
            request.params,
            user=form.user,
            owner=owner,
            idempotency_key=key,
            client_user=client_user,
        )
        return run_write(job, self.settings, on_text=on_text, backend=self.backend_for(job), store=self.works()).work

    def backend_for(self, job: Any) -> Any:
        """The server's loaded engine when the write service would choose it for `job`; None when
        it would choose another (Chinese verse: the Tang model), which the registry then loads once."""
        from fabula.service.write import engine_for

        if engine_for(job, self.settings) == (self.settings.engine, self.settings.model):
            return self.backend_now()
        return None


def create_app(settings: Settings | None = None) -> FastAPI:
    from fabula.api.continuity_routes import router as continuity_router
    from fabula.api.draft_routes import router as draft_router
    from fabula.api.job_routes import router as job_router
    from fabula.api.openai_routes import router as openai_router
    from fabula.api.plan_routes import router as plan_router
    from fabula.api.stream_routes import router as stream_router
    from fabula.api.works_routes import router as works_router
    from fabula.api.write_routes import router as write_router

    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.fabula.jobs.shutdown()

    app = FastAPI(
        title="fabula",
        version=__version__,
        description="Creative writing with measured controls.",
        lifespan=lifespan,
        docs_url=None,  # served below from local files: FastAPI's page loads a CDN and an inline script
        redoc_url=None,
    )
    app.state.fabula = AppState(settings)
    app.add_middleware(
        Guard,
        allowed_hosts=settings.api_allowed_hosts.split(","),
        allowed_origins=settings.api_allowed_origins.split(","),
    )
    errors.install(app)
    app.include_router(openai_router, responses=errors.ERROR_RESPONSES)
    app.include_router(works_router, responses=errors.ERROR_RESPONSES)
    app.include_router(write_router, responses=errors.ERROR_RESPONSES)
    app.include_router(plan_router, responses=errors.ERROR_RESPONSES)
    app.include_router(continuity_router, responses=errors.ERROR_RESPONSES)
    app.include_router(draft_router, responses=errors.ERROR_RESPONSES)
    app.include_router(job_router, responses=errors.ERROR_RESPONSES)
    app.include_router(stream_router, responses=errors.ERROR_RESPONSES)

    from importlib import resources

    from fastapi.responses import FileResponse
    from fastapi.staticfiles import StaticFiles

    static = resources.files("fabula.api").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    @app.get("/", include_in_schema=False)
    async def studio() -> FileResponse:
        """The web studio: one page, its script and style from /static, no inline code."""
        return FileResponse(str(static.joinpath("index.html")), media_type="text/html")

    @app.get("/desk", include_in_schema=False)
    async def writing_desk() -> FileResponse:
        """The writing desk: a manuscript, the co-writing verbs, its history and bible."""
        return FileResponse(str(static.joinpath("desk.html")), media_type="text/html")

    _api_reference(app, static)

    @app.get("/healthz")
    async def health() -> dict[str, Any]:
        state = app.state.fabula
        return {"ok": True, "version": __version__, "engine": settings.engine, "in_use": state.gate.in_use}

    return app


def _api_reference(app: FastAPI, static: Any) -> None:
    """/docs (Swagger UI) and /redoc (ReDoc) from the files the `fastapi-offline` package ships,
    so they work offline and under the strict CSP: FastAPI's own pages fetch their scripts from a
    CDN and start them inline, which the policy blocks (both were blank). The package's module is
    never imported; only its folder of static files is served."""
    import importlib.util

    from fastapi.responses import FileResponse
    from fastapi.staticfiles import StaticFiles

    spec = importlib.util.find_spec("fastapi_offline")
    assets = None
    if spec is not None and spec.submodule_search_locations:
        assets = Path(list(spec.submodule_search_locations)[0]) / "static"
        app.mount("/docs/assets", StaticFiles(directory=str(assets)), name="docs-assets")

    def page(name: str) -> FileResponse:
        if assets is None:  # say how to get it, instead of a blank page
            from fabula.errors import ConfigError

            raise ConfigError("the API reference pages need fastapi-offline: pip install 'fabula[api]'")
        return FileResponse(str(static.joinpath(name)), media_type="text/html")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> FileResponse:
        return page("docs.html")

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> FileResponse:
        return page("redoc.html")
