"""Durability: kill -9 the server while it saves, 50 times; nothing acknowledged is lost, and
retries with the same Idempotency-Key never make a second work."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from fabula.settings import Settings
from fabula.store.works import WorkStore
from tests.test_api import free_port

BODY = {"model": "fabula-story", "messages": [{"role": "user", "content": "a lantern"}], "max_tokens": 300}


def start(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = os.environ | {"FABULA_HOME": str(home), "FABULA_ENGINE": "fake"}
    process = subprocess.Popen(
        [sys.executable, "-m", "fabula.cli.main", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(400):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    pytest.fail("the server did not start")


def save(port: int, key: str) -> tuple[str, str]:
    reply = httpx.post(
        f"http://127.0.0.1:{port}/v1/chat/completions",
        json=BODY | {"seed": int(key.split("-")[1])},
        headers={"Idempotency-Key": key},
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    choice = reply.json()["choices"][0]
    return choice["fabula"]["work_id"], choice["message"]["content"]


@pytest.mark.slow
def test_kill_9_during_saves_loses_nothing_acknowledged(fabula_home: Path) -> None:
    rng = random.Random(0)
    port = free_port()
    acknowledged: dict[str, tuple[str, str]] = {}  # idempotency key -> (work id, text)
    unanswered: list[str] = []  # sent when the server died: maybe saved, never acknowledged
    counter = 0
    for _ in range(50):
        process = start(fabula_home, port)
        timer = threading.Timer(rng.uniform(0.05, 0.5), process.send_signal, (signal.SIGKILL,))
        timer.start()
        while True:
            key = f"save-{counter}"
            counter += 1
            try:
                acknowledged[key] = save(port, key)
            except httpx.HTTPError:
                unanswered.append(key)
                break
        timer.join()
        process.wait(timeout=10)
        assert process.returncode == -signal.SIGKILL
    process = start(fabula_home, port)
    try:
        for key in unanswered:  # the client retries what it never heard back about
            acknowledged[key] = save(port, key)
        for key in rng.sample(sorted(acknowledged), 20):  # and a few it did: the same work comes back
            assert save(port, key) == acknowledged[key]
    finally:
        process.kill()
        process.wait(timeout=10)
    store = WorkStore(Settings(home=fabula_home).db_url)
    for work_id, text in acknowledged.values():
        assert store.get(work_id)["text"] == text
    assert store.count() == len(acknowledged) == counter  # every key saved exactly once
