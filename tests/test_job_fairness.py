"""Background jobs shared fairly: one user's long job never keeps another user's job waiting,
a user's queue is bounded, a queued job can be cancelled at once, and a training config the
server cannot afford is refused before it is queued, naming the bound."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fabula.api.app import create_app
from fabula.api.jobs import JobRunner
from fabula.errors import Busy
from fabula.settings import Settings
from fabula.store.db import open_engine
from fabula.train.bounds import TrainLimits, check, estimate
from fabula.train.config import load_config
from tests.conftest import LOCAL


@pytest.fixture
def runner(settings: Settings) -> Iterator[JobRunner]:
    jobs = JobRunner(open_engine(settings.db_url), workers=2, per_user=4)
    yield jobs
    jobs.shutdown()


def blocking(release: threading.Event) -> Any:
    def work(progress: Any) -> dict[str, Any]:
        while not release.wait(0.02):
            progress(step="waiting")  # raises once cancelled
        return {"ok": True}

    return work


def quick(progress: Any) -> dict[str, Any]:
    return {"ok": True}


def test_a_users_long_jobs_leave_a_worker_for_everyone_else(runner: JobRunner) -> None:
    hold = threading.Event()
    long = [runner.submit("ana", "pretrain", {}, blocking(hold))["id"] for _ in range(3)]
    time.sleep(0.2)
    bens = runner.submit("ben", "plan", {}, quick)["id"]
    assert runner.wait("ben", bens, timeout=5)["status"] == "done"  # before: queued until ana cancelled
    statuses = [runner.get("ana", j)["status"] for j in long]
    assert statuses.count("running") == 1 and statuses.count("queued") == 2  # ana holds one of two workers
    hold.set()
    assert [runner.wait("ana", j, timeout=5)["status"] for j in long] == ["done"] * 3


def test_turns_go_round_the_users_not_in_order_of_arrival(settings: Settings) -> None:
    jobs = JobRunner(open_engine(settings.db_url), workers=1, per_user=10)
    order: list[str] = []
    hold = threading.Event()
    first = jobs.submit("ana", "x", {}, blocking(hold))["id"]

    def record(name: str) -> Any:
        return lambda progress: order.append(name) or {}

    for i in range(3):
        jobs.submit("ana", "x", {}, record(f"ana{i}"))
    last = [jobs.submit("ben", "x", {}, record(f"ben{i}"))["id"] for i in range(2)][-1]
    hold.set()
    jobs.wait("ana", first)
    jobs.wait("ben", last)
    time.sleep(0.1)
    jobs.shutdown()
    assert order[:4] == ["ana0", "ben0", "ana1", "ben1"], order


def test_a_users_queue_is_bounded_and_a_queued_job_cancels_at_once(runner: JobRunner) -> None:
    hold = threading.Event()
    ids = [runner.submit("ana", "x", {}, blocking(hold))["id"] for _ in range(4)]
    with pytest.raises(Busy, match="at most 4"):
        runner.submit("ana", "x", {}, quick)
    queued = next(j for j in ids if runner.get("ana", j)["status"] == "queued")
    assert runner.cancel("ana", queued)["status"] == "cancelled"
    assert runner.submit("ana", "x", {}, quick)["status"] == "queued"  # its place was given back
    assert runner.submit("ben", "x", {}, quick)  # another user is not held to ana's count
    hold.set()


def test_training_configs_are_bounded_before_they_queue(fabula_home: Path) -> None:
    huge = load_config(None, ["model.n_layer=400", "model.n_embd=32000", "model.n_head=10"])
    assert estimate(huge).parameters > 4_000_000_000_000
    with pytest.raises(Exception, match="at most 20,000,000 parameters"):
        check(huge, TrainLimits())
    settings = Settings(home=fabula_home, engine="fake")
    with TestClient(create_app(settings), base_url=LOCAL) as client:
        texts = ["The sea was grey and the light turned. " * 4] * 3
        for overrides, max_steps, bound in [
            (["model.n_layer=400", "model.n_embd=32000", "model.n_head=10"], None, "parameters"),
            ([], 1_000_000, "steps"),
            (["train.batch_size=4096", "model.block_size=2048"], None, "MiB"),
        ]:
            body = {"name": "big", "texts": texts, "overrides": overrides} | (
                {"max_steps": max_steps} if max_steps else {}
            )
            reply = client.post("/api/train", json=body)
            assert reply.status_code == 400, reply.text
            assert bound in reply.json()["error"]["message"] and "at most" in reply.json()["error"]["message"]
        assert client.get("/api/jobs").json()["jobs"] == []  # nothing was queued
