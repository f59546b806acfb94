"""Background jobs for the HTTP API: long plans and training runs, with progress and cancelling.

A request that would take minutes (a screenplay, a pretraining run) answers at once with a job id;
the job runs on its own worker thread and records its progress in the `jobs` table, so any
request (and a restarted server) can read it. Jobs belong to the user who started them and are
listed, read and cancelled only by them. A job found `running` or `queued` when the server starts
was cut off by a crash or a restart and is marked `interrupted`; plans resume from their last
saved step, training from its last checkpoint.

**Fair queues.** Each user has a queue of their own, and free workers take jobs from the users'
queues in turn (round robin), not in order of arrival. With more than one worker, no user runs on
every worker at once: one is always left for the others, so a user's long training run cannot
keep everyone else's plan queued (it did, with one worker shared first-come first-served). A user
may have `per_user` jobs queued or running; one more is refused with 429 before it is recorded.
Local single-user mode has nobody to be fair to and may use every worker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from fabula.errors import Busy, Conflict, InvalidParam, NotFound
from fabula.store.db import jobs

LOG = logging.getLogger(__name__)
FINISHED = ("done", "failed", "cancelled", "interrupted")


class JobCancelled(Exception):
    """Raised from a job's progress callback once the user has cancelled it."""


class Progress:
    """What a job calls as it works: `progress(done=3, total=10, step="beats")`. It raises
    JobCancelled after a cancel, and writes to the store at most every `every` seconds (and always
    when the step changes), so a fast loop does not hammer the database."""

    def __init__(self, runner: JobRunner, job_id: str, every: float = 0.5) -> None:
        self.runner, self.job_id, self.every = runner, job_id, every
        self.cancel = threading.Event()
        self._last = 0.0
        self._step: Any = None

    def __call__(self, **fields: Any) -> None:
        if self.cancel.is_set():
            raise JobCancelled
        now = time.monotonic()
        if now - self._last >= self.every or fields.get("step") != self._step:
            self._last, self._step = now, fields.get("step")
            self.runner._set(self.job_id, progress=fields)


Queued = tuple[str, Callable[[Progress], dict[str, Any]], Progress]


class JobRunner:
    def __init__(self, db: Engine, workers: int = 2, per_user: int = 4) -> None:
        self.db = db
        self.workers = workers
        self.per_user = per_user
        self.executor: ThreadPoolExecutor | None = None  # made by the first job (and again after a shutdown)
        self._waiting: dict[str, deque[Queued]] = {}  # owner ("" in local mode) -> their jobs, in order
        self._turns: deque[str] = deque()  # owners with waiting jobs, in the order they get a worker
        self._running: dict[str, int] = {}  # owner -> jobs running now
        self._owner_of: dict[str, str] = {}  # job id -> owner, for queued and running jobs
        self._live: dict[str, Progress] = {}
        self._held: dict[str, str] = {}  # resource (e.g. "plan:ID") -> the job working on it
        self._lock = threading.Lock()
        now = datetime.now(UTC)
        with db.begin() as conn:  # whatever was running when the last server stopped was cut off
            conn.execute(
                update(jobs)
                .where(jobs.c.status.in_(("queued", "running")))
                .values(status="interrupted", error="the server stopped while the job ran", updated_at=now)
            )

    def check_free(self, resource: str) -> None:
        """Refuse (409) to change what a running job is writing: one of the two would be lost."""
        with self._lock:
            holder = self._held.get(resource)
        if holder is not None:
            raise Conflict(f"{resource} is being written by job {holder}; wait for it or cancel it")

    def submit(
        self,
        owner: str | None,
        kind: str,
        params: dict[str, Any],
        work: Callable[[Progress], dict[str, Any]],
        resource: str | None = None,
    ) -> dict[str, Any]:
        """Record the job, start it, and return its record. A job holds `resource` until it ends."""
        from fabula.pipeline import new_work_id

        job_id = new_work_id()
        who = owner or ""
        with self._lock:
            mine = len(self._waiting.get(who, ())) + self._running.get(who, 0)
            if mine >= self.per_user:
                raise Busy(
                    f"you have {mine} jobs queued or running (at most {self.per_user}); "
                    "wait for one to finish or cancel one",
                    retry_after=30,
                )
            if resource is not None:
                if resource in self._held:
                    raise Conflict(f"{resource} is being written by job {self._held[resource]}; wait or cancel it")
                self._held[resource] = job_id
        now = datetime.now(UTC)
        with self.db.begin() as conn:
            conn.execute(
                jobs.insert().values(
                    id=job_id,
                    owner=who,
                    kind=kind,
                    status="queued",
                    params=params,
                    progress={},
                    created_at=now,
                    updated_at=now,
                )
            )
        progress = Progress(self, job_id)
        with self._lock:
            self._live[job_id] = progress
            self._owner_of[job_id] = who
            if who not in self._waiting or not self._waiting[who]:
                self._waiting[who] = deque()
                self._turns.append(who)
            self._waiting[who].append((job_id, work, progress))
            self._dispatch()
        return self.get(owner, job_id)

    def _cap(self, who: str) -> int:
        """Workers one owner may hold at once: all but one when others may come (see above)."""
        return self.workers if who == "" else max(1, self.workers - 1)

    def _dispatch(self) -> None:
        """Hand free workers to waiting jobs, one owner at a time in turn. Called under the lock."""
        if self.executor is None:
            self.executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="fabula-job")
        for _ in range(len(self._turns)):
            if sum(self._running.values()) >= self.workers:
                return
            who = self._turns.popleft()
            queue = self._waiting.get(who)
            if not queue:
                self._waiting.pop(who, None)
                continue
            if self._running.get(who, 0) >= self._cap(who):
                self._turns.append(who)  # their turn passes to the next owner
                continue
            job_id, work, progress = queue.popleft()
            self._running[who] = self._running.get(who, 0) + 1
            if queue:
                self._turns.append(who)
            else:
                del self._waiting[who]
            # marked before the lock is let go: a job read as `queued` is one cancel can still take
            # out of its queue, never one already handed to a worker
            self._set(job_id, status="running")
            self.executor.submit(self._run, job_id, work, progress)

    def _run(self, job_id: str, work: Callable[[Progress], dict[str, Any]], progress: Progress) -> None:
        try:
            if progress.cancel.is_set():
                raise JobCancelled
            LOG.info("job %s started", job_id)
            result = work(progress)
            self._set(job_id, status="done", result=result)
            LOG.info("job %s done", job_id)
        except JobCancelled:
            self._set(job_id, status="cancelled", error="cancelled by its owner")
        except Exception as exc:  # noqa: BLE001 - a job's failure is recorded, never raised into the server
            self._set(job_id, status="failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                who = self._owner_of.pop(job_id, "")
                self._running[who] = self._running.get(who, 1) - 1
                if self._running[who] <= 0:
                    del self._running[who]
                self._forget(job_id)
                if self.executor is not None:
                    self._dispatch()

    def _forget(self, job_id: str) -> None:
        self._live.pop(job_id, None)
        for resource in [r for r, j in self._held.items() if j == job_id]:
            del self._held[resource]

    def _set(self, job_id: str, **values: Any) -> None:
        with self.db.begin() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(**values, updated_at=datetime.now(UTC)))

    def get(self, owner: str | None, job_id: str) -> dict[str, Any]:
        if not isinstance(job_id, str) or not 1 <= len(job_id) <= 32:
            raise InvalidParam("job_id", job_id, "is not a job id")
        with self.db.connect() as conn:
            row = (
                conn.execute(select(jobs).where(jobs.c.id == job_id, jobs.c.owner == (owner or ""))).mappings().first()
            )
        if row is None:  # someone else's job answers like a job that does not exist
            raise NotFound(f"no job with id {job_id!r}; GET /api/jobs lists yours")
        return _public(row)

    def list(self, owner: str | None, limit: int = 50) -> list[dict[str, Any]]:
        query = select(jobs).where(jobs.c.owner == (owner or "")).order_by(jobs.c.created_at.desc()).limit(limit)
        with self.db.connect() as conn:
            return [_public(r) for r in conn.execute(query).mappings()]

    def cancel(self, owner: str | None, job_id: str) -> dict[str, Any]:
        job = self.get(owner, job_id)  # 404 for someone else's
        if job["status"] in FINISHED:
            return job
        with self._lock:
            live = self._live.get(job_id)
            queue = self._waiting.get(self._owner_of.get(job_id, ""), deque())
            queued = next((q for q in queue if q[0] == job_id), None)
            if queued is not None:  # not started: it ends now, and its place in the queue with it
                queue.remove(queued)
                self._owner_of.pop(job_id, None)
                self._forget(job_id)
        if queued is not None:
            self._set(job_id, status="cancelled", error="cancelled by its owner before it started")
            return self.get(owner, job_id)
        if live is not None:
            live.cancel.set()
        return job | {"status": "cancelling"}

    def shutdown(self) -> None:
        """The server is stopping: ask running jobs to stop and start no queued one. Whatever
        did not finish is marked `interrupted` when the next server starts."""
        with self._lock:
            for progress in self._live.values():
                progress.cancel.set()
            self._waiting.clear()
            self._turns.clear()
            executor, self.executor = self.executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def wait(self, owner: str | None, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
        """Poll until the job finishes (for tests and scripts)."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.get(owner, job_id)
            if job["status"] in FINISHED or time.monotonic() > deadline:
                return job
            time.sleep(0.05)


def _public(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "kind": row["kind"],
        "status": row["status"],
        "params": row["params"],
        "progress": row["progress"],
        "result": row["result"],
        "error": row["error"],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }
