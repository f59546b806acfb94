"""The store keeps every work, candidate and provenance field, and migrates idempotently."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from fabula.backends.fake import FakeBackend
from fabula.errors import InvalidParam, NotFound
from fabula.files import write_atomic
from fabula.pipeline import write
from fabula.sampling import SamplingParams
from fabula.settings import Settings
from fabula.store.db import MIGRATIONS, migrate, table_names
from fabula.store.works import WorkStore

pytestmark = pytest.mark.usefixtures("each_database")


@pytest.fixture
def store(settings: Settings) -> WorkStore:
    return WorkStore(settings.db_url)


def make_work(settings: Settings, n: int = 2) -> object:
    return write(FakeBackend("fake-sample", settings), "story", "a fox", {}, SamplingParams(n=n, seed=5))


def test_round_trip_keeps_everything(store: WorkStore, settings: Settings) -> None:
    work = make_work(settings)
    store.save(work)  # type: ignore[arg-type]
    loaded = store.get(work.id)  # type: ignore[attr-defined]
    assert loaded == json.loads(json.dumps(work.to_json()))  # type: ignore[attr-defined]
    assert loaded["provenance"]["seed"] == 5
    assert [c["chosen"] for c in loaded["candidates"]].count(True) == 1


def test_sqlite_is_in_wal_mode(store: WorkStore) -> None:
    if store.engine.dialect.name != "sqlite":
        pytest.skip("a SQLite setting")
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL


def test_migrations_are_recorded_once(store: WorkStore) -> None:
    assert migrate(store.engine) == []
    assert {"works", "candidates", "schema_migrations"} <= set(table_names(store.engine))
    with store.engine.connect() as conn:
        names = [r[0] for r in conn.execute(text("SELECT name FROM schema_migrations"))]
    assert names == [name for name, _ in MIGRATIONS]


def test_prefix_lookup_and_clear_errors(store: WorkStore, settings: Settings) -> None:
    work = make_work(settings, n=1)
    store.save(work)  # type: ignore[arg-type]
    assert store.resolve_id(work.id[:10]) == work.id  # type: ignore[attr-defined]
    with pytest.raises(NotFound, match="no work with id 'ffffffffff'"):
        store.get("ffffffffff")
    with pytest.raises(InvalidParam, match="at least 6 characters"):
        store.get("01")
    with pytest.raises(InvalidParam, match="format='docx'"):
        store.export(work.id, "docx")  # type: ignore[attr-defined]


def test_list_newest_first_and_exports(store: WorkStore, settings: Settings) -> None:
    first, second = make_work(settings, 1), make_work(settings, 1)
    store.save(first)  # type: ignore[arg-type]
    store.save(second)  # type: ignore[arg-type]
    assert [r["id"] for r in store.list()] == [second.id, first.id]  # type: ignore[attr-defined]
    assert store.count() == 2
    markdown = store.export(first.id, "md")  # type: ignore[attr-defined]
    assert first.text in markdown and "engine=fake" in markdown  # type: ignore[attr-defined]
    assert store.export(first.id, "txt").strip() == first.text.strip()  # type: ignore[attr-defined]


def test_write_atomic_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "out" / "work.md"
    write_atomic(target, "one")
    write_atomic(target, "two")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["work.md"]


def test_stored_times_come_back_aware_and_in_utc(store: WorkStore, settings: Settings) -> None:
    """SQLite has no time-zone type: times used to come back naive there and aware on PostgreSQL."""
    from datetime import UTC, datetime, timedelta, timezone

    from sqlalchemy import select

    from fabula.store.db import audit_log

    work = make_work(settings)
    store.save(work)
    listed = store.list()[0]["created_at"]
    assert datetime.fromisoformat(listed).utcoffset() == timedelta(0)
    with store.engine.begin() as conn:  # a time given in another zone is stored as the same instant
        elsewhere = datetime(2026, 12, 2, 9, 30, tzinfo=timezone(timedelta(hours=8)))
        conn.execute(audit_log.insert().values(at=elsewhere, event="test", detail={}))
        back = conn.execute(select(audit_log.c.at).where(audit_log.c.event == "test")).scalar_one()
    assert back == elsewhere and back.tzinfo is not None and back.utcoffset() == timedelta(0)
    assert back == datetime(2026, 12, 2, 1, 30, tzinfo=UTC)
