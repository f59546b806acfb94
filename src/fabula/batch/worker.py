"""One batch request, written where it is sent: a process of the local pool or a Ray task.

`run_item` takes plain data and returns plain data (it crosses process and machine boundaries),
and never raises for a failure of the request itself: it returns `status: "error"` with
`retryable` set when another endpoint may succeed (the engine could not be reached, timed out or
said it was busy), so the driver can send the request elsewhere. Engines are built once per
process and reused for every request that process serves.
"""

from __future__ import annotations

import time
from typing import Any

_backends: dict[tuple[str, str, str], Any] = {}


def _backend(endpoint: dict[str, Any] | None) -> Any:
    from fabula.backends import get_backend
    from fabula.settings import get_settings

    settings = get_settings()
    if endpoint is None:
        return get_backend(settings.engine, settings.model, settings)
    key = (endpoint["url"], endpoint["model"], endpoint["api_key"])
    if key not in _backends:
        from fabula.backends.openai_compat import OpenAIBackend

        remote = settings.model_copy(
            update={
                "openai_base_url": endpoint["url"],
                "openai_api_key": endpoint["api_key"],
                "openai_dialect": endpoint["dialect"],
            }
        )
        # no retries here: a failing endpoint is the driver's to route around, at once
        _backends[key] = OpenAIBackend(endpoint["model"], remote, retries=0)
    return _backends[key]


def run_item(item: dict[str, Any], endpoint: dict[str, Any] | None, job_name: str, store: bool) -> dict[str, Any]:
    from fabula.errors import BackendError, FabulaError
    from fabula.pipeline import write
    from fabula.responsible.review import review_and_save, review_work
    from fabula.responsible.safety import SafetyPolicy
    from fabula.sampling import SamplingParams
    from fabula.settings import get_settings

    start = time.perf_counter()
    where = endpoint["url"] if endpoint else "local"
    base = {"id": item["id"], "form": item["form"], "endpoint": where}
    try:
        settings = get_settings()
        works = None
        key = f"batch:{job_name}:{item['id']}"
        if store:
            from fabula.store.works import WorkStore

            works = WorkStore(settings.db_url)
            done = works.by_idempotency_key(item["user"], key)
            if done is not None:  # saved by an earlier run that died before recording it
                saved = works.get(done, item["user"])
                return base | {
                    "status": "ok",
                    "text": saved["text"],
                    "work_id": done,
                    "provenance": saved["provenance"],
                }
        backend = _backend(endpoint)
        policy = SafetyPolicy.parse(settings.safety)
        params = SamplingParams.from_mapping(item["params"])
        voice = _voice(item, works, settings) if item["user"] else None
        work = write(backend, item["form"], item["prompt"], item["inputs"], params, safety=policy, voice=voice)
        if works is not None:
            work = review_and_save(work, settings, works, safety=policy, owner=item["user"], idempotency_key=key)
        else:
            work = review_work(work, settings, safety=policy)
        seconds = round(time.perf_counter() - start, 3)
        extra = {"work_id": work.id} if works is not None else {}
        return base | {"status": "ok", "text": work.text, "seconds": seconds, "provenance": work.provenance} | extra
    except BackendError as exc:
        return base | {"status": "error", "retryable": exc.retryable, "error": str(exc)}
    except FabulaError as exc:
        return base | {"status": "error", "retryable": False, "error": f"{type(exc).__name__}: {exc}"}


def _voice(item: dict[str, Any], works: Any, settings: Any) -> Any:
    from fabula.forms import get_form
    from fabula.personalize.profiles import ProfileStore
    from fabula.personalize.voice import voice_for
    from fabula.store.works import WorkStore

    form = get_form(item["form"])
    text = item["prompt"] if item["prompt"] is not None else form.default_prompt
    works = works or WorkStore(settings.db_url)
    profiles = ProfileStore(settings.db_url)
    return voice_for(profiles, works, item["user"], form, text, dict(item["inputs"]), settings.ensure_home())
