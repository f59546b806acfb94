"""Shared fixtures: an isolated FABULA_HOME per test, and the cached settings reset around it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fabula.backends import close_all
from fabula.settings import Settings, get_settings
from fabula.store.db import dispose_engines

# TestClient requests go to a loopback name: the server refuses Host headers it does not answer to
LOCAL = "http://127.0.0.1"


def app_engine(client: Any) -> Any:
    """The engine a test server (a TestClient's app) answers with: scripts are set on it."""
    return client.app.state.fabula.backend_now()


def scripted(scripts: list[str], model: str = "", settings: Settings | None = None) -> Any:
    """The fake engine that the CLI (and anything else in this process that asks the registry for
    `fake`/`model` under the environment's settings) will be handed, serving `scripts` in turn.
    It is a fresh instance with its own scripts and request history; the fixture below forgets it
    after the test."""
    from fabula.backends import get_backend

    backend = get_backend("fake", model, settings or get_settings())
    backend.scripts = list(scripts)  # type: ignore[attr-defined]
    return backend


@pytest.fixture(autouse=True)
def fabula_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("FABULA_HOME", str(home))
    monkeypatch.setenv("FABULA_THREADS", "2")
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()
    dispose_engines()
    close_all("fake")  # scripted fakes belong to the test that made them


def npm_package(tmp_path_factory: pytest.TempPathFactory, spec: str) -> Path:
    """An npm package (an outside tool that reads fabula's exports) installed into a folder of its
    own; its node_modules is what NODE_PATH should name. Skips where node or npm are missing."""
    import shutil
    import subprocess

    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed")
    folder = tmp_path_factory.mktemp(spec.split("@")[0])
    done = subprocess.run(
        ["npm", "install", "--silent", "--prefix", str(folder), spec], capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        pytest.skip(f"npm could not install {spec}: {done.stderr[-300:]}")
    return folder / "node_modules"


@pytest.fixture
def fake_client(fabula_home: Path) -> Iterator[Any]:
    """The API app on the fake engine, in this process (other engines a module holds stay loaded)."""
    from fastapi.testclient import TestClient

    from fabula.api.app import create_app

    close_all("fake")
    with TestClient(create_app(Settings(home=fabula_home, engine="fake")), base_url=LOCAL) as client:
        yield client
    close_all("fake")


@pytest.fixture
def settings(fabula_home: Path) -> Settings:
    return get_settings()


POSTGRES_URL_ENV = "FABULA_TEST_POSTGRES_URL"


@pytest.fixture(params=["sqlite", "postgresql"])
def each_database(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run a store test on SQLite and on a real PostgreSQL server (started by `.ci/postgres.sh`,
    its URL in FABULA_TEST_POSTGRES_URL). Each test starts from an empty schema. In CI a missing
    server is a failure, not a skip: the store must be tested on both."""
    import os

    if request.param == "sqlite":
        yield "sqlite"
        return
    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{POSTGRES_URL_ENV} is not set: .ci/run starts PostgreSQL and sets it")
        pytest.skip(f"no PostgreSQL server: run .ci/postgres.sh and set {POSTGRES_URL_ENV}")
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    monkeypatch.setenv("FABULA_DATABASE_URL", url)
    get_settings.cache_clear()
    yield "postgresql"
    get_settings.cache_clear()


@pytest.fixture(scope="session", autouse=True)
def _engines_closed_at_the_end() -> Iterator[None]:
    """Engines the registry keeps between tests (a model loads once per run) are closed when the
    run ends, with their kept connections, instead of being left to the interpreter's exit."""
    yield
    close_all()
