"""Where batch requests run: a local process pool, or Ray tasks on a cluster.

Both offer the same three calls to the driver: `submit(item, endpoint)` → a handle,
`wait_any(handles)` → the handles that finished, `result(handle)` → the worker's dict (or a
retryable error when the worker itself died).

Why Ray tasks and not Ray Data: the driver must route each request to an endpoint with a free
slot, move it to another endpoint when one dies, and append each result to the output the moment
it lands (that is what makes a job resumable with every item exactly once). Ray Data's
`map_batches` streams blocks through a fixed function with no per-item routing or completion
hook, which fits one homogeneous model replica per actor, not a pool of external endpoints that
may fail. With tasks, `ray.wait` hands the driver each result as it finishes.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from fabula.batch.worker import run_item
from fabula.errors import ConfigError


def _died(handle_error: BaseException) -> dict[str, Any]:
    return {
        "status": "error",
        "retryable": True,
        "error": f"the worker died: {type(handle_error).__name__}: {handle_error}",
    }


class LocalExecutor:
    name = "local"

    def __init__(self, workers: int, env: dict[str, str] | None = None) -> None:
        # spawn, not fork: the driver has threads (progress bar, HTTP clients) that fork would copy
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        self.workers = workers

    def submit(self, item: dict[str, Any], endpoint: dict[str, Any] | None, job: str, store: bool) -> Future[Any]:
        try:
            return self.pool.submit(run_item, item, endpoint, job, store)
        except BrokenProcessPool:  # a worker was killed: start a fresh pool and go on
            self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"))
            return self.pool.submit(run_item, item, endpoint, job, store)

    def wait_any(self, handles: list[Any], timeout: float) -> list[Any]:
        done, _ = wait(handles, timeout=timeout, return_when=FIRST_COMPLETED)
        return list(done)

    def result(self, handle: Future[Any]) -> dict[str, Any]:
        try:
            return handle.result()  # type: ignore[no-any-return]
        except BrokenProcessPool as exc:
            return _died(exc)

    def shutdown(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class RayExecutor:
    name = "ray"

    def __init__(self, address: str | None, workers: int) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError("the Ray executor needs Ray: pip install 'fabula[batch]'") from None
        self.ray = ray
        self.workers = workers
        self.started_here = not ray.is_initialized()
        if self.started_here:
            if address:
                ray.init(address=address, log_to_driver=False)
            else:  # a local Ray instance on this machine
                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        # one task per request, never retried by Ray itself: the driver retries on another endpoint
        self.remote = ray.remote(num_cpus=1, max_retries=0)(run_item)

    def submit(self, item: dict[str, Any], endpoint: dict[str, Any] | None, job: str, store: bool) -> Any:
        return self.remote.remote(item, endpoint, job, store)

    def wait_any(self, handles: list[Any], timeout: float) -> list[Any]:
        done, _ = self.ray.wait(handles, num_returns=1, timeout=timeout)
        return list(done)

    def result(self, handle: Any) -> dict[str, Any]:
        try:
            return self.ray.get(handle)  # type: ignore[no-any-return]
        except (self.ray.exceptions.WorkerCrashedError, self.ray.exceptions.NodeDiedError) as exc:
            return _died(exc)

    def shutdown(self) -> None:
        if self.started_here:
            self.ray.shutdown()


def make_executor(name: str, workers: int, address: str | None = None) -> Any:
    if name == "local":
        return LocalExecutor(workers)
    if name == "ray":
        return RayExecutor(address, workers)
    raise ConfigError(f"executor {name!r}: use local or ray")
