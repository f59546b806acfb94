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
    """The endpoint's engine; None on the local pool, where the write service chooses (as it does
    for every surface: Chinese verse goes to the Tang model)."""
    from fabula.settings import get_settings

    if endpoint is None:
        return None
    settings = get_settings()
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
    from fabula.sampling import SamplingParams
    from fabula.service.write import WriteJob, run_write
    from fabula.settings import get_settings

    start = time.perf_counter()
    where = endpoint["url"] if endpoint else "local"
    base = {"id": item["id"], "form": item["form"], "endpoint": where}
    try:
        settings = get_settings()
        works = None
        from fabula.store.works import IdempotencyKey, WorkStore

        # the item's own fields are its request: an item id reused for another prompt is refused
        key = IdempotencyKey.of(f"batch:{job_name}:{item['id']}", item)
        if store:
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
        job = WriteJob(
            item["form"],
            item["prompt"],
            dict(item["inputs"]),
            SamplingParams.from_mapping(item["params"]),
            user=item["user"],
            idempotency_key=key if store else None,
            keep_copy=False,
            save=store,
        )
        work = run_write(job, settings, backend=_backend(endpoint), store=works).work
        seconds = round(time.perf_counter() - start, 3)
        extra = {"work_id": work.id} if works is not None else {}
        return base | {"status": "ok", "text": work.text, "seconds": seconds, "provenance": work.provenance} | extra
    except BackendError as exc:
        return base | {"status": "error", "retryable": exc.retryable, "error": str(exc)}
    except FabulaError as exc:
        return base | {"status": "error", "retryable": False, "error": f"{type(exc).__name__}: {exc}"}
