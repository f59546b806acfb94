"""WorkStore: save, list, fetch and export works with their candidates and provenance."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from fabula.errors import Conflict, InvalidParam, KeyReused, NotFound
from fabula.files import is_full_disk, out_of_space
from fabula.store.db import candidates, idempotency, open_engine, works
from fabula.types import EXPORT_FORMATS, Work

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class IdempotencyKey:
    """A client's retry key and a fingerprint (SHA-256 of canonical JSON) of what it asked for.

    A retry with the key and the same request is answered with the saved work; the key with a
    different request is refused (`KeyReused`, 422, as Stripe's API does) instead of silently
    answering with a work made for something else. Transport choices (streaming or not) are not
    part of the request: the caller leaves them out of what it fingerprints."""

    key: str
    fingerprint: str = ""

    @classmethod
    def of(cls, key: str, request: Any) -> IdempotencyKey:
        canonical = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
        return cls(key, hashlib.sha256(canonical.encode("utf-8")).hexdigest())


class WorkStore:
    def __init__(self, engine: Engine | str) -> None:
        self.engine = open_engine(engine) if isinstance(engine, str) else engine

    def save(self, work: Work, owner: str | None = None, idempotency_key: IdempotencyKey | None = None) -> str:
        """Save the work (and, with a key, the idempotency record, in the same transaction: a retry
        after a crash either finds both or neither). When another process saved a work under the
        same key meanwhile, nothing of this one is kept and the answer is Conflict (409). The
        provenance must be a `records.Provenance`: a malformed one is refused, by field, before
        anything is written."""
        from pydantic import ValidationError

        from fabula.records import check_provenance

        prov = work.provenance
        try:
            check_provenance(prov)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InvalidParam(f"provenance.{where}", first.get("input"), first["msg"]) from None
        created = datetime.fromisoformat(prov["created_at"]) if "created_at" in prov else datetime.now(UTC)
        LOG.debug("saving work %s (%s, %d candidates)", work.id, work.form, len(work.candidates))
        try:
            self._insert(work, prov, created, owner, idempotency_key)
        except OperationalError as exc:  # the transaction rolled back: nothing of the work is kept
            if is_full_disk(exc):
                raise out_of_space(self.engine.url.database or "the database") from None
            raise
        except IntegrityError:
            if idempotency_key is None or self.by_idempotency_key(owner, idempotency_key) is None:
                raise
            raise Conflict(
                f"Idempotency-Key {idempotency_key.key!r} was used by another request that saved its work "
                "meanwhile; send the request again to receive that work"
            ) from None
        return work.id

    def _insert(
        self, work: Work, prov: dict[str, Any], created: datetime, owner: str | None, key: IdempotencyKey | None
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                works.insert().values(
                    id=work.id,
                    form=work.form,
                    prompt=prov.get("prompt", {}).get("user_prompt", ""),
                    text=work.text,
                    engine=prov.get("engine", ""),
                    model=(prov.get("model") or {}).get("name", ""),
                    seed=prov.get("seed"),
                    created_at=created,
                    provenance=prov,
                    owner=owner,
                )
            )
            if key is not None:
                conn.execute(
                    idempotency.insert().values(
                        owner=owner or "",
                        key=key.key,
                        work_id=work.id,
                        created_at=datetime.now(UTC),
                        body_hash=key.fingerprint or None,
                    )
                )
            for idx, cand in enumerate(work.candidates):
                conn.execute(
                    candidates.insert().values(
                        work_id=work.id,
                        idx=idx,
                        text=cand.text,
                        raw_text=cand.raw_text,
                        seed=cand.completion.seed,
                        finish_reason=cand.completion.finish_reason,
                        tokens_per_second=cand.completion.tokens_per_second,
                        scores=cand.scores,
                        verdicts=cand.verdicts,
                        chosen=cand.chosen,
                        checks=cand.checks,
                    )
                )

    def by_idempotency_key(self, owner: str | None, key: IdempotencyKey) -> str | None:
        """The work saved under `key` for `owner`, or None; KeyReused when it was saved for
        another request (records from before fingerprints were kept match any request)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(idempotency.c.work_id, idempotency.c.body_hash).where(
                    idempotency.c.owner == (owner or ""), idempotency.c.key == key.key
                )
            ).first()
        if row is None:
            return None
        if row.body_hash and key.fingerprint and row.body_hash != key.fingerprint:
            raise KeyReused(
                f"Idempotency-Key {key.key!r} was already used for a different request (work {row.work_id}); "
                "use a new key for a new request"
            )
        return str(row.work_id)

    def resolve_id(self, work_id: str, owner: str | None = None) -> str:
        """Full id from a full id or a unique prefix (at least 6 characters); with an owner, only
        that owner's works are found (another user's work is as absent as a missing one)."""
        if len(work_id) < 6:
            raise InvalidParam("id", work_id, "give at least 6 characters of a work id")
        query = select(works.c.id).where(works.c.id.startswith(work_id, autoescape=True))
        if owner is not None:
            query = query.where(works.c.owner == owner)
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(2)).all()
        if not rows:
            raise NotFound(f"no work with id {work_id!r}; `fabula works list` shows the ids")
        if len(rows) > 1:
            raise InvalidParam("id", work_id, "matches more than one work; give more characters")
        return str(rows[0][0])

    def get(self, work_id: str, owner: str | None = None) -> dict[str, Any]:
        full = self.resolve_id(work_id, owner)
        with self.engine.connect() as conn:
            row = conn.execute(select(works).where(works.c.id == full)).mappings().one()
            cands = (
                conn.execute(select(candidates).where(candidates.c.work_id == full).order_by(candidates.c.idx))
                .mappings()
                .all()
            )
        return {
            "id": row["id"],
            "form": row["form"],
            "text": row["text"],
            "candidates": [
                {"text": c["text"], "scores": c["scores"], "verdicts": c["verdicts"], "chosen": c["chosen"]}
                | ({"checks": c["checks"]} if c["checks"] is not None else {})
                for c in cands
            ],
            "provenance": row["provenance"],
        }

    def load(self, work_id: str, owner: str | None = None) -> Work:
        """The saved work as a `Work` (candidates with their scores, verdicts and checks)."""
        from fabula.types import Candidate, Completion

        saved = self.get(work_id, owner)
        candidates = tuple(
            Candidate(
                c["text"],
                c["text"],
                c["scores"],
                c["verdicts"],
                Completion(c["text"], "stop", None),
                c["chosen"],
                c.get("checks"),
            )
            for c in saved["candidates"]
        )
        return Work(saved["id"], saved["form"], saved["text"], candidates, saved["provenance"])

    def pick(self, work_id: str, index: int, owner: str | None = None) -> dict[str, Any]:
        """Make candidate `index` the work's text: the writer's choice over the ranker's. The
        provenance keeps the ranker's choice and records the pick."""
        full = self.resolve_id(work_id, owner)
        with self.engine.begin() as conn:
            cands = conn.execute(select(candidates.c.idx, candidates.c.text).where(candidates.c.work_id == full)).all()
            texts = dict(cands)
            if isinstance(index, bool) or not isinstance(index, int) or index not in texts:
                raise InvalidParam("index", index, f"the work has candidates 0 to {len(texts) - 1}")
            prov = dict(conn.execute(select(works.c.provenance).where(works.c.id == full)).scalar_one())
            post = dict(prov.get("post", {}))
            post.setdefault("ranked_index", post.get("chosen_index"))
            post["chosen_index"] = index
            post["picked_by"] = owner or "local user"
            prov["post"] = post
            conn.execute(works.update().where(works.c.id == full).values(text=texts[index], provenance=prov))
            conn.execute(
                candidates.update().where(candidates.c.work_id == full).values(chosen=candidates.c.idx == index)
            )
        return self.get(full, owner)

    def delete(self, work_id: str, owner: str | None = None) -> str:
        full = self.resolve_id(work_id, owner)
        with self.engine.begin() as conn:
            conn.execute(idempotency.delete().where(idempotency.c.work_id == full))
            conn.execute(candidates.delete().where(candidates.c.work_id == full))
            conn.execute(works.delete().where(works.c.id == full))
        return full

    def list(self, limit: int = 20, form: str | None = None, owner: str | None = None) -> list[dict[str, Any]]:
        if not 1 <= limit <= 10_000:
            raise InvalidParam("limit", limit, "must be from 1 to 10000")
        query = select(
            works.c.id,
            works.c.form,
            works.c.prompt,
            works.c.text,
            works.c.engine,
            works.c.model,
            works.c.created_at,
            works.c.owner,
        )
        if form:
            query = query.where(works.c.form == form)
        if owner is not None:
            query = query.where(works.c.owner == owner)
        query = query.order_by(works.c.created_at.desc(), works.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [{**dict(r), "created_at": r["created_at"].isoformat(), "words": len(r["text"].split())} for r in rows]

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(works)).scalar_one())

    def export(self, work_id: str, fmt: str = "md") -> str:
        if fmt not in EXPORT_FORMATS:
            raise InvalidParam("format", fmt, f"choose one of: {', '.join(EXPORT_FORMATS)}")
        data = self.get(work_id)
        if fmt == "json":
            return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        if fmt == "txt":
            return data["text"].rstrip() + "\n"
        prov = data["provenance"]
        return (
            f"# {data['form'].title()}: {prov.get('prompt', {}).get('user_prompt', '')}\n\n"
            f"{data['text'].rstrip()}\n\n---\n\n"
            f"*{provenance_line(prov)}*\n"
        )


def provenance_line(prov: dict[str, Any]) -> str:
    """The one-line provenance summary printed after `fabula write` and in exports."""
    params = prov.get("params", {})
    model = prov.get("model") or {}
    digest = (model.get("sha256") or "")[:12]
    parts = [
        f"engine={prov.get('engine')}",
        f"model={model.get('name')}" + (f" ({digest})" if digest else ""),
        f"seed={prov.get('seed')}",
        f"temperature={params.get('temperature')}",
        f"top_p={params.get('top_p')}",
        f"template={prov.get('template')}",
        f"fabula {prov.get('fabula_version')}",
    ]
    return " · ".join(parts)


def user_folder(home: Path, owner: str | None) -> Path:
    """A signed-in user's own folder under `home` (plans, trained models, uploaded corpora), named
    by a hash of the user id so that no id can reach outside it; `home` itself without a user."""
    if owner is None:
        return home
    return home / "users" / hashlib.sha256(owner.encode("utf-8")).hexdigest()[:24]
