"""Shared fixtures: an isolated FABULA_HOME per test, and the cached settings reset around it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fabula.settings import Settings, get_settings
from fabula.store.db import dispose_engines


@pytest.fixture(autouse=True)
def fabula_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("FABULA_HOME", str(home))
    monkeypatch.setenv("FABULA_THREADS", "2")
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()
    dispose_engines()


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
