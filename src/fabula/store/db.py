"""Engine creation and schema migrations.

Migrations are ordered, named functions recorded in `schema_migrations`; each runs in its own
transaction, so a crash mid-upgrade leaves the database at the last completed step. SQLite runs
in WAL mode with synchronous=FULL: a commit that returned is on disk (FACTS: 150 SIGKILLs lost
nothing acknowledged).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    create_engine,
    event,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine

from fabula.errors import ConfigError


class UTCDateTime(TypeDecorator[datetime]):
    """A point in time that comes back as it went in: aware, in UTC, on every database.

    SQLite has no time-zone type, and SQLAlchemy's `DateTime(timezone=True)` hands back naive
    values there (while PostgreSQL returns aware ones), so comparing or printing a stored time
    depended on the database. Values are converted to UTC on the way in (a naive value is taken
    to be UTC already, as every writer here uses `datetime.now(UTC)`) and made aware on the way
    out; rows written before this type existed hold UTC and read back right.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC) if dialect.name != "sqlite" else aware.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("applied_at", UTCDateTime(), nullable=False),
)

works = Table(
    "works",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("form", String(40), nullable=False, index=True),
    Column("prompt", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("engine", String(40), nullable=False),
    Column("model", String(300), nullable=False),
    Column("seed", Integer, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False, index=True),
    Column("provenance", JSON, nullable=False),
    Column("owner", String(64), nullable=True, index=True),  # added by migration 004
)

candidates = Table(
    "candidates",
    metadata,
    Column("work_id", String(32), ForeignKey("works.id", ondelete="CASCADE"), primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("text", Text, nullable=False),
    Column("raw_text", Text, nullable=False),
    Column("seed", Integer, nullable=True),
    Column("finish_reason", String(20), nullable=False),
    Column("tokens_per_second", Float, nullable=True),
    Column("scores", JSON, nullable=False),
    Column("verdicts", JSON, nullable=False),
    Column("chosen", Boolean, nullable=False),
    Column("checks", JSON, nullable=True),
)


users = Table(
    "users",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("created_at", UTCDateTime(), nullable=False),
    # explicit preferences: genres, tone, length, language (validated by fabula.personalize.profiles)
    Column("preferences", JSON, nullable=False),
    Column("password_hash", String(200), nullable=True),  # added by migration 004
)

items = Table(
    "items",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(20), nullable=False, index=True),  # article | movie | work | product
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    # a user's own work imported as an item is recommended to them alone (NULL: everyone's); migration 009
    Column("owner", String(64), nullable=True, index=True),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", String(64), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("kind", String(20), nullable=False),  # view | rate | like | accept | reject | edit
    Column("item_id", String(64), nullable=False),  # an item, or a work id for accept/reject/edit
    Column("value", Float, nullable=True),  # a rating, or the signed weight of the event
    Column("text", Text, nullable=True),  # an edited text: the user's own words, their voice
    Column("created_at", UTCDateTime(), nullable=False, index=True),
)


api_keys = Table(
    "api_keys",
    metadata,
    Column("key_hash", String(64), primary_key=True),  # SHA-256 of a 256-bit random key
    Column("user_id", String(64), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("label", String(100), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=True),  # sessions only (NULL: until revoked); migration 008
)

# Who signed in, failed, was throttled, signed out; which keys were made and revoked; whose password
# changed. It is also the memory of the sign-in throttle, so the back-off survives a restart.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False, index=True),
    Column("event", String(40), nullable=False),
    Column("user_id", String(64), nullable=True),  # as typed at sign-in: it may name nobody
    Column("address", String(64), nullable=True),
    Column("detail", JSON, nullable=False),
    Index("ix_audit_user", "event", "user_id", "at"),
    Index("ix_audit_address", "event", "address", "at"),
)

idempotency = Table(
    "idempotency",
    metadata,
    Column("owner", String(64), primary_key=True),  # "" in local single-user mode
    Column("key", String(200), primary_key=True),
    Column("work_id", String(32), ForeignKey("works.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    # SHA-256 of what the request asked for (migration 008): the same key with another body is refused
    Column("body_hash", String(64), nullable=True),
)


jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(64), nullable=False, index=True),  # "" in local single-user mode
    Column("kind", String(40), nullable=False),  # plan | plan-regenerate | plan-resume | pretrain
    Column("status", String(20), nullable=False),  # queued | running | done | failed | cancelled | interrupted
    Column("params", JSON, nullable=False),
    Column("progress", JSON, nullable=False),  # {"step", "done", "total", ...}
    Column("result", JSON, nullable=True),
    Column("error", Text, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)


stream_memory = Table(
    "stream_memory",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("persona", String(60), nullable=False, index=True),
    # the user whose stream it was (NULL: local mode): one user's viewers never reach another's prompt
    Column("owner", String(64), nullable=True, index=True),  # added by migration 007
    Column("viewer", String(64), nullable=True, index=True),  # NULL: a summary of a past stream
    Column("kind", String(10), nullable=False),  # viewer | stream
    Column("text", Text, nullable=False),
    Column("facts", JSON, nullable=False),  # what the summary is made from (counts, topics)
    Column("updated_at", UTCDateTime(), nullable=False),
)


def _m001_works_and_candidates(conn: Connection) -> None:
    works.create(conn, checkfirst=True)
    candidates.create(conn, checkfirst=True)


def _m002_candidate_checks(conn: Connection) -> None:
    # Databases made by 001 before `checks` existed lack the column; newer ones have it already.
    if "checks" not in {c["name"] for c in inspect(conn).get_columns("candidates")}:
        conn.execute(text("ALTER TABLE candidates ADD COLUMN checks JSON"))


def _m003_users_items_events(conn: Connection) -> None:
    users.create(conn, checkfirst=True)
    items.create(conn, checkfirst=True)
    events.create(conn, checkfirst=True)


def _m004_owners_keys_idempotency(conn: Connection) -> None:
    """Works get an owner (NULL: made locally, without a user); users a password hash; API keys
    and idempotency records get their tables."""
    if "owner" not in {c["name"] for c in inspect(conn).get_columns("works")}:
        conn.execute(text("ALTER TABLE works ADD COLUMN owner VARCHAR(64)"))
        conn.execute(text("CREATE INDEX ix_works_owner ON works (owner)"))
    if "password_hash" not in {c["name"] for c in inspect(conn).get_columns("users")}:
        conn.execute(text("ALTER TABLE users ADD COLUMN password_hash VARCHAR(200)"))
    api_keys.create(conn, checkfirst=True)
    idempotency.create(conn, checkfirst=True)


def _m005_jobs(conn: Connection) -> None:
    jobs.create(conn, checkfirst=True)


def _m006_stream_memory(conn: Connection) -> None:
    stream_memory.create(conn, checkfirst=True)


def _m007_stream_memory_owner(conn: Connection) -> None:
    if "owner" not in {c["name"] for c in inspect(conn).get_columns("stream_memory")}:
        conn.execute(text("ALTER TABLE stream_memory ADD COLUMN owner VARCHAR(64)"))
        conn.execute(text("CREATE INDEX ix_stream_memory_owner ON stream_memory (owner)"))


def _m008_sessions_audit_request_hashes(conn: Connection) -> None:
    """Sessions get an expiry, sign-in its audit log, idempotency records the hash of their body."""
    if "expires_at" not in {c["name"] for c in inspect(conn).get_columns("api_keys")}:
        conn.execute(text("ALTER TABLE api_keys ADD COLUMN expires_at TIMESTAMP WITH TIME ZONE"))
    if "body_hash" not in {c["name"] for c in inspect(conn).get_columns("idempotency")}:
        conn.execute(text("ALTER TABLE idempotency ADD COLUMN body_hash VARCHAR(64)"))
    audit_log.create(conn, checkfirst=True)


def _m009_item_owners(conn: Connection) -> None:
    if "owner" not in {c["name"] for c in inspect(conn).get_columns("items")}:
        conn.execute(text("ALTER TABLE items ADD COLUMN owner VARCHAR(64)"))
        conn.execute(text("CREATE INDEX ix_items_owner ON items (owner)"))


MIGRATIONS: list[tuple[str, Callable[[Connection], None]]] = [
    ("001_works_and_candidates", _m001_works_and_candidates),
    ("002_candidate_checks", _m002_candidate_checks),
    ("003_users_items_events", _m003_users_items_events),
    ("004_owners_keys_idempotency", _m004_owners_keys_idempotency),
    ("005_jobs", _m005_jobs),
    ("006_stream_memory", _m006_stream_memory),
    ("007_stream_memory_owner", _m007_stream_memory_owner),
    ("008_sessions_audit_request_hashes", _m008_sessions_audit_request_hashes),
    ("009_item_owners", _m009_item_owners),
]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def open_engine(url: str) -> Engine:
    """The engine for `url`, its schema brought up to date: one per URL and process, so its
    connection pool is shared by every store that opens the same database."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = _create_engine(url)
        return engine


def dispose_engines() -> None:
    """Close every pooled connection (a server's shutdown, a test's end)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def _create_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).expanduser().parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(url, future=True)
    except Exception as exc:
        raise ConfigError(f"database URL {url!r} is not usable: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    migrate(engine)
    return engine


def migrate(engine: Engine) -> list[str]:
    """Apply the migrations not yet recorded; return their names."""
    with engine.begin() as conn:
        schema_migrations.create(conn, checkfirst=True)
    applied_now = []
    for name, step in MIGRATIONS:
        with engine.begin() as conn:
            done = conn.execute(select(schema_migrations.c.name).where(schema_migrations.c.name == name))
            if done.first() is not None:
                continue
            step(conn)
            conn.execute(schema_migrations.insert().values(name=name, applied_at=datetime.now(UTC)))
            applied_now.append(name)
    return applied_now


def table_names(engine: Engine) -> list[str]:
    return sorted(inspect(engine).get_table_names())
