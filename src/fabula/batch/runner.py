"""The batch driver: dispatch requests to endpoints with free slots, route around failures, and
record every result exactly once.

The output file is the job's memory. Each result is one JSON line, appended and fsynced the
moment it lands; a job started again reads the ids already there and does only the rest (a torn
last line from a crash is cut off first). Only the driver writes the file, and it writes an id
once: a request is sent again only after its attempt came back failed, never while it may still
be running. A retryable failure (the endpoint is down, timed out or busy) puts the endpoint in a
cool-down that doubles with each failure, and the request goes to another endpoint; after
`retries` such attempts, or at once for a failure of the request itself (a blocked prompt, a bad
input), the request is recorded with `status: "error"` and the job goes on.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fabula.batch.job import BatchItem, BatchJob, Endpoint

LOG = logging.getLogger(__name__)


COOL_DOWN_S = 1.0
MAX_COOL_DOWN_S = 30.0


@dataclass
class EndpointState:
    endpoint: Endpoint | None  # None: the local engine, loaded in each worker
    slots: int  # requests it takes at once: the endpoint's concurrency, or the local workers
    busy: int = 0
    down_until: float = 0.0
    failures: int = 0

    def failed(self, now: float) -> None:
        self.failures += 1
        self.down_until = now + min(MAX_COOL_DOWN_S, COOL_DOWN_S * 2 ** (self.failures - 1))

    def succeeded(self) -> None:
        self.failures = 0


@dataclass
class Summary:
    total: int
    skipped: int = 0
    ok: int = 0
    error: int = 0
    retried: int = 0
    seconds: float = 0.0
    per_endpoint: dict[str, int] = field(default_factory=dict)

    def to_dict(self, output: Path) -> dict[str, Any]:
        done = self.ok + self.error
        rate = round(60 * done / self.seconds, 2) if self.seconds else 0.0
        return asdict(self) | {"items_per_minute": rate, "output": str(output)}


def finished_ids(output: Path, keep_errors: bool = True) -> set[str]:
    """Ids already recorded; cuts off a torn last line, and drops error lines to retry them."""
    if not output.exists():
        return set()
    raw = output.read_bytes()
    lines = raw.split(b"\n")
    complete, torn = lines[:-1], lines[-1]
    kept: list[bytes] = []
    ids: set[str] = set()
    for line in complete:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line torn mid-write, then appended after: never acknowledged
        if not keep_errors and record.get("status") != "ok":
            continue
        ids.add(record["id"])
        kept.append(line)
    if torn or len(kept) != len(complete):
        tmp = output.with_name(f".{output.name}.tmp")
        tmp.write_bytes(b"".join(line + b"\n" for line in kept))
        os.replace(tmp, output)
    return ids


class Recorder:
    """Appends one line per result, flushed and fsynced, so an acknowledged line survives a crash."""

    def __init__(self, output: Path) -> None:
        output.parent.mkdir(parents=True, exist_ok=True)
        self.handle = output.open("ab")

    def write(self, record: dict[str, Any]) -> None:
        self.handle.write(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")
        self.handle.flush()
        os.fsync(self.handle.fileno())
        LOG.info("batch item %s: %s", record.get("id"), record.get("status", "done"))

    def close(self) -> None:
        self.handle.close()


def run_batch(
    job: BatchJob,
    executor: Any,
    retry_errors: bool = False,
    on_progress: Callable[[Summary], None] | None = None,
) -> Summary:
    started = time.perf_counter()
    done = finished_ids(job.output, keep_errors=not retry_errors)
    pending: deque[BatchItem] = deque(item for item in job.items if item.id not in done)
    summary = Summary(total=len(job.items), skipped=len(job.items) - len(pending))
    if on_progress:
        on_progress(summary)  # before any work: what is left to do
    pool = [EndpointState(e, e.concurrency) for e in job.endpoints] or [EndpointState(None, executor.workers)]
    attempts: dict[str, int] = {}
    inflight: dict[Any, tuple[BatchItem, EndpointState]] = {}
    recorder = Recorder(job.output)
    try:
        while pending or inflight:
            now = time.monotonic()
            while pending:  # one at a time to the least loaded endpoint that has a free slot
                free = [s for s in pool if s.busy < s.slots and now >= s.down_until]
                if not free:
                    break
                state = min(free, key=lambda s: s.busy / s.slots)
                item = pending.popleft()
                endpoint = None if state.endpoint is None else asdict(state.endpoint)
                inflight[executor.submit(item.to_dict(), endpoint, job.name, job.store)] = (item, state)
                state.busy += 1
            if not inflight:  # every endpoint is cooling down: wait for the first to come back
                time.sleep(max(0.05, min(s.down_until for s in pool) - time.monotonic()))
                continue
            for handle in executor.wait_any(list(inflight), timeout=1.0):
                item, state = inflight.pop(handle)
                state.busy -= 1
                result = executor.result(handle)
                attempts[item.id] = attempts.get(item.id, 0) + 1
                if result["status"] == "ok":
                    state.succeeded()
                    record = result | {"attempts": attempts[item.id]}
                    summary.ok += 1
                    name = result["endpoint"]
                    summary.per_endpoint[name] = summary.per_endpoint.get(name, 0) + 1
                elif result.get("retryable") and attempts[item.id] <= job.retries:
                    state.failed(time.monotonic())
                    pending.appendleft(item)  # to another endpoint (this one is cooling down)
                    summary.retried += 1
                    continue
                else:
                    record = {k: v for k, v in result.items() if k != "retryable"} | {
                        "text": None,
                        "attempts": attempts[item.id],
                    }
                    summary.error += 1
                recorder.write(record)
                summary.seconds = time.perf_counter() - started
                if on_progress:
                    on_progress(summary)
    finally:
        recorder.close()
        summary.seconds = time.perf_counter() - started
    return summary
