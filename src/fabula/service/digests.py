"""A news digest for a user, as a service: pick their articles, summarise each, save the digest as
their work (with its Markdown copy), and mark the articles viewed so the next digest moves on."""

from __future__ import annotations

from typing import Any

from fabula.sampling import SamplingParams
from fabula.service.write import WriteResult, keep_copy
from fabula.settings import Settings


def write_digest(
    user_id: str,
    k: int,
    settings: Settings,
    *,
    engine: str | None = None,
    model: str | None = None,
    seed: int | None = None,
    backend: Any = None,
) -> WriteResult:
    from fabula.personalize.digest import digest
    from fabula.personalize.profiles import ProfileStore
    from fabula.responsible.review import review_and_save
    from fabula.store.works import WorkStore

    profiles = ProfileStore(settings.db_url)
    profiles.user(user_id)  # a missing user fails before the engine loads
    if backend is None:
        from fabula.backends import get_backend

        backend = get_backend(engine or settings.engine, model if model is not None else settings.model, settings)
    work = digest(backend, profiles, user_id, settings.ensure_home(), k, SamplingParams(max_tokens=160, seed=seed))
    store = WorkStore(settings.db_url)
    work = review_and_save(work, settings, store, owner=user_id)
    for entry in work.provenance["digest"]:
        profiles.record(user_id, "view", entry["article"])
    return WriteResult(work, keep_copy(work, settings, store))
