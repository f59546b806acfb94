"""Users, their stated preferences, a catalogue of items, and what each user did (the history).

Explicit preferences (genres, tone, length, language) are validated here, so a bad value is an
error naming it. Implicit feedback is a stream of events: views, ratings, likes, and the user's
verdicts on generated candidates (accept, reject, edit, where an edit keeps the user's own words).
Each event kind has a signed weight (`EVENT_WEIGHTS`): a rejection counts against what it names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.engine import Engine

from fabula.errors import InvalidParam, NotFound
from fabula.store.db import events, items, open_engine, users

EVENT_WEIGHTS = {"view": 0.5, "like": 1.0, "accept": 1.0, "edit": 1.5, "reject": -1.0, "rate": 0.0}
LENGTHS = ("short", "medium", "long")
LANGUAGES = ("en", "zh")
ITEM_KINDS = ("article", "movie", "work", "product")
USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@:-]{0,63}")


def check_preferences(prefs: Mapping[str, Any]) -> dict[str, Any]:
    """Known keys only, each of the right shape; returns a clean copy."""
    out: dict[str, Any] = {}
    for key, value in prefs.items():
        if key == "genres":
            genres = [g.strip().lower() for g in (value.split(",") if isinstance(value, str) else value)]
            if not all(genres) or len(genres) > 12:
                raise InvalidParam("genres", value, "give 1 to 12 comma-separated genres, e.g. fantasy,mystery")
            out["genres"] = genres
        elif key == "tone":
            if not isinstance(value, str) or not 1 <= len(value.strip()) <= 40:
                raise InvalidParam("tone", value, "one or two words, e.g. warm or dry wit")
            out["tone"] = value.strip()
        elif key == "length":
            if value not in LENGTHS:
                raise InvalidParam("length", value, f"choose one of {', '.join(LENGTHS)}")
            out["length"] = value
        elif key == "language":
            if value not in LANGUAGES:
                raise InvalidParam("language", value, f"choose one of {', '.join(LANGUAGES)}")
            out["language"] = value
        else:
            raise InvalidParam("preference", key, "known preferences: genres, tone, length, language")
    return out


@dataclass(frozen=True)
class Event:
    user_id: str
    kind: str
    item_id: str
    value: float | None
    text: str | None
    created_at: datetime

    @property
    def weight(self) -> float:
        """Signed strength: a 5-star rating +2, a 1-star -2, a like +1, a rejection -1."""
        if self.kind == "rate":
            return (self.value or 3.0) - 3.0
        return EVENT_WEIGHTS[self.kind] * (self.value if self.value is not None else 1.0)


class ProfileStore:
    def __init__(self, engine: Engine | str) -> None:
        self.engine = open_engine(engine) if isinstance(engine, str) else engine

    # --- users -------------------------------------------------------------------------
    def add_user(self, user_id: str, preferences: Mapping[str, Any] | None = None) -> dict[str, Any]:
        if not USER_ID.fullmatch(user_id):
            raise InvalidParam(
                "user", user_id, "use 1-64 letters, digits and _ . @ : -, starting with a letter or digit"
            )
        prefs = check_preferences(preferences or {})
        with self.engine.begin() as conn:
            if conn.execute(select(users.c.id).where(users.c.id == user_id)).first():
                raise InvalidParam("user", user_id, "already exists; use `fabula user set` to change preferences")
            conn.execute(users.insert().values(id=user_id, created_at=datetime.now(UTC), preferences=prefs))
        return {"id": user_id, "preferences": prefs}

    def user(self, user_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.id == user_id)).mappings().first()
        if row is None:
            raise NotFound(f"no user {user_id!r}; create one with `fabula user add {user_id}`")
        return {"id": row["id"], "preferences": dict(row["preferences"]), "created_at": row["created_at"].isoformat()}

    def set_preferences(self, user_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        current = self.user(user_id)["preferences"]
        prefs = current | check_preferences(changes)
        with self.engine.begin() as conn:
            conn.execute(users.update().where(users.c.id == user_id).values(preferences=prefs))
        return prefs

    def user_ids(self) -> list[str]:
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(select(users.c.id).order_by(users.c.id))]

    # --- catalogue ---------------------------------------------------------------------
    def add_items(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Insert or replace items {id, kind, title, text, tags, owner?}; returns how many. An item
        with an owner (a user's own work) is recommended to that user alone."""
        count = 0
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            for row in rows:
                if row["kind"] not in ITEM_KINDS:
                    raise InvalidParam("kind", row["kind"], f"choose one of {', '.join(ITEM_KINDS)}")
                conn.execute(delete(items).where(items.c.id == row["id"]))
                conn.execute(
                    items.insert().values(
                        id=str(row["id"]),
                        kind=row["kind"],
                        title=str(row["title"]),
                        text=str(row.get("text", "")),
                        tags=list(row.get("tags", [])),
                        created_at=now,
                        owner=row.get("owner") or None,
                    )
                )
                count += 1
        return count

    def items(self, kind: str | None = None, visible_to: str | None = None) -> list[dict[str, Any]]:
        """The catalogue; with `visible_to`, only what that user may be shown: everyone's items
        and their own works, never another user's."""
        query = select(items.c.id, items.c.kind, items.c.title, items.c.text, items.c.tags).order_by(items.c.id)
        if kind:
            query = query.where(items.c.kind == kind)
        if visible_to is not None:
            query = query.where(or_(items.c.owner.is_(None), items.c.owner == visible_to))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    # --- history -----------------------------------------------------------------------
    def record(
        self, user_id: str, kind: str, item_id: str, value: float | None = None, text: str | None = None
    ) -> Event:
        """Store one event; the user must exist, the kind be known, a rating lie in 1..5."""
        self.user(user_id)
        if kind not in EVENT_WEIGHTS:
            raise InvalidParam("kind", kind, f"choose one of {', '.join(EVENT_WEIGHTS)}")
        if kind == "rate" and (value is None or not 1 <= value <= 5):
            raise InvalidParam("value", value, "a rating is a number from 1 to 5")
        if kind == "edit" and not (text and text.strip()):
            raise InvalidParam("text", text, "an edit keeps the edited text: give it")
        event = Event(user_id, kind, item_id, value, text, datetime.now(UTC))
        with self.engine.begin() as conn:
            conn.execute(events.insert().values(**event.__dict__))
        return event

    def history(self, user_id: str | None = None) -> list[Event]:
        """Events in time order (all users when `user_id` is None)."""
        query = select(events).order_by(events.c.created_at, events.c.id)
        if user_id is not None:
            query = query.where(events.c.user_id == user_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [Event(r["user_id"], r["kind"], r["item_id"], r["value"], r["text"], r["created_at"]) for r in rows]

    def count_events(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(events)).scalar_one())
