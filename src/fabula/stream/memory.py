"""Long-term memory of a streaming character: its regular viewers and its past streams.

One row per viewer (updated as they chat: how often, since when, what they talk about, what they
gave) and one per past stream (a summary the model writes when the stream ends), in the store.
Before each reply the character recalls the rows of the viewers it is answering and the past
streams most relevant to what they said (MiniLM cosine; word overlap without the model). Viewer
rows are built from counts and words, not by the model, so a viewer cannot talk their way into
the character's memory with an instruction; and what is recalled enters the prompt only inside
the neutralized data block, like the messages themselves.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.engine import Engine

from fabula.store.db import open_engine, stream_memory

STOP = set(
    "the a an and or but to of in on at for with is are was were be been it this that you your i me my we our "
    "what how why when who do does did can could would should will just so not no yes hi hello hey please "
    "about have has had there their they them he she his her its if than then too very really".split()
)
REGULAR_AFTER = 3  # messages before a viewer counts as a regular


def topic_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z][a-z']{2,}", text.casefold()) if w not in STOP]


class StreamMemory:
    """One persona's memory for one owner (None: local mode). Every query is scoped by both, so
    a user's viewers and streams are never recalled into another user's prompt."""

    def __init__(self, engine: Engine | str, persona: str, owner: str | None = None) -> None:
        self.engine = open_engine(engine) if isinstance(engine, str) else engine
        self.persona = persona
        self.owner = owner
        self._vectors: dict[int, Any] = {}  # past streams' embeddings by row id: encoded once

    def _mine(self) -> Any:
        owner = stream_memory.c.owner
        return and_(
            stream_memory.c.persona == self.persona, owner.is_(None) if self.owner is None else owner == self.owner
        )

    def viewer(self, viewer: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(stream_memory).where(
                        self._mine(),
                        stream_memory.c.kind == "viewer",
                        stream_memory.c.viewer == viewer,
                    )
                )
                .mappings()
                .first()
            )
        return dict(row) if row else None

    def is_regular(self, viewer: str) -> bool:
        row = self.viewer(viewer)
        return bool(row and row["facts"].get("messages", 0) >= REGULAR_AFTER)

    def note_message(self, viewer: str, text: str, donation: float = 0.0) -> None:
        """Update the viewer's row from one (moderated, accepted) message."""
        now = datetime.now(UTC)
        row = self.viewer(viewer)
        facts: dict[str, Any] = (
            dict(row["facts"])
            if row
            else {"messages": 0, "since": now.date().isoformat(), "topics": {}, "donated": 0.0}
        )
        facts["messages"] += 1
        facts["donated"] = round(facts.get("donated", 0.0) + donation, 2)
        topics: Counter[str] = Counter(facts.get("topics", {}))
        topics.update(topic_words(text))
        facts["topics"] = dict(topics.most_common(12))  # bounded: a viewer's row never grows
        summary = _viewer_summary(viewer, facts)
        with self.engine.begin() as conn:
            if row is None:
                conn.execute(
                    stream_memory.insert().values(
                        persona=self.persona,
                        owner=self.owner,
                        viewer=viewer,
                        kind="viewer",
                        text=summary,
                        facts=facts,
                        updated_at=now,
                    )
                )
            else:
                conn.execute(
                    stream_memory.update()
                    .where(stream_memory.c.id == row["id"])
                    .values(text=summary, facts=facts, updated_at=now)
                )

    def remember_stream(self, summary: str, facts: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                stream_memory.insert().values(
                    persona=self.persona,
                    owner=self.owner,
                    viewer=None,
                    kind="stream",
                    text=summary,
                    facts=facts,
                    updated_at=datetime.now(UTC),
                )
            )

    def streams(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(stream_memory)
                .where(self._mine(), stream_memory.c.kind == "stream")
                .order_by(stream_memory.c.updated_at.desc())
                .limit(200)
            ).mappings()
            return [dict(r) for r in rows]

    def recall(self, viewers: list[str], about: str, k: int = 2) -> list[str]:
        """The rows of these viewers (regulars only), then the `k` past streams nearest `about`."""
        out = []
        for viewer in dict.fromkeys(viewers):
            row = self.viewer(viewer)
            if row and row["facts"].get("messages", 0) >= REGULAR_AFTER:
                out.append(row["text"])
        past = self.streams()
        if past and about.strip():
            out += [p["text"] for p in self._nearest(about, past, k)]
        return out

    def _nearest(self, about: str, rows: list[dict[str, Any]], k: int) -> list[dict[str, Any]]:
        """The `k` rows nearest `about` (MiniLM cosine; shared topic words without the model)."""
        from fabula.embeddings import embedder

        model = embedder()
        if model is not None:
            todo = [r for r in rows if r["id"] not in self._vectors]
            if todo:
                vectors = model.encode([r["text"] for r in todo], normalize_embeddings=True, show_progress_bar=False)
                self._vectors.update({r["id"]: v for r, v in zip(todo, vectors, strict=True)})
            query = model.encode([about], normalize_embeddings=True, show_progress_bar=False)[0]
            scores = [float(query @ self._vectors[r["id"]]) for r in rows]
        else:
            words = set(topic_words(about))
            scores = [len(words & set(topic_words(r["text"]))) / (len(words) or 1) for r in rows]
        ranked = sorted(zip(scores, range(len(rows)), strict=True), reverse=True)
        return [rows[i] for score, i in ranked[:k] if score > 0.2]


def _viewer_summary(viewer: str, facts: dict[str, Any]) -> str:
    topics = ", ".join(list(facts.get("topics", {}))[:5]) or "nothing in particular yet"
    gave = f"; has donated {facts['donated']:g}" if facts.get("donated") else ""
    return f"{viewer}: viewer since {facts['since']}, {facts['messages']} messages; talks about {topics}{gave}."
