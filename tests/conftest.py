"""Shared fixtures: an isolated FABULA_HOME per test, and the cached settings reset around it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fabula.settings import Settings, get_settings


@pytest.fixture(autouse=True)
def fabula_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("FABULA_HOME", str(home))
    monkeypatch.setenv("FABULA_THREADS", "2")
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()


@pytest.fixture
def settings(fabula_home: Path) -> Settings:
    return get_settings()
