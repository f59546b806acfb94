"""Retries and walk-aways as real clients make them: an Idempotency-Key bound to what was asked,
concurrent retries that never fail, a replay in the shape it was asked for, and an abandoned
request that stops its generation and gives its place back."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import app_engine
from tests.test_api import serve

STORY = {"model": "fabula-story", "messages": [{"role": "user", "content": "a lantern"}], "max_tokens": 60, "seed": 1}


def works(client: TestClient) -> list[dict]:
    return client.get("/api/works").json()["works"]


def test_a_key_sent_again_with_another_request_is_a_422(fake_client: TestClient) -> None:
    key = {"Idempotency-Key": "order-7"}
    first = fake_client.post("/v1/chat/completions", json=STORY, headers=key)
    again = fake_client.post("/v1/chat/completions", json=STORY, headers=key)
    assert first.status_code == again.status_code == 200
    assert again.json()["choices"][0]["fabula"]["work_id"] == first.json()["choices"][0]["fabula"]["work_id"]
    other = fake_client.post("/v1/chat/completions", json=STORY | {"seed": 9}, headers=key)
    assert other.status_code == 422, other.text
    error = other.json()["error"]
    assert error["type"] == "idempotency_error" and "order-7" in error["message"] and "new key" in error["message"]
    body = {"form": "story", "prompt": "a lantern", "sampling": {"max_tokens": 60, "seed": 1}}
    made = fake_client.post("/api/works", json=body, headers={"Idempotency-Key": "w-1"})
    assert (
        fake_client.post("/api/works", json=body, headers={"Idempotency-Key": "w-1"}).json()["id"] == made.json()["id"]
    )
    changed = fake_client.post("/api/works", json=body | {"prompt": "a kettle"}, headers={"Idempotency-Key": "w-1"})
    assert changed.status_code == 422
    assert len(works(fake_client)) == 2


def test_a_replay_asked_for_as_a_stream_comes_back_as_a_stream(fake_client: TestClient) -> None:
    key = {"Idempotency-Key": "order-8"}
    first = fake_client.post("/v1/chat/completions", json=STORY, headers=key).json()
    with fake_client.stream("POST", "/v1/chat/completions", json=STORY | {"stream": True}, headers=key) as reply:
        assert reply.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in reply.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == first["choices"][0]["message"]["content"]
    assert chunks[-1]["fabula"]["work_id"] == first["choices"][0]["fabula"]["work_id"]
    assert len(works(fake_client)) == 1


def test_concurrent_retries_make_one_work_and_no_errors(fake_client: TestClient) -> None:
    app_engine(fake_client).word_delay = 0.01  # long enough that the retries overlap the first
    for round_ in range(5):
        key = {"Idempotency-Key": f"burst-{round_}"}
        with ThreadPoolExecutor(max_workers=4) as pool:
            replies = list(
                pool.map(lambda h: fake_client.post("/v1/chat/completions", json=STORY, headers=h), [key] * 4)
            )
        assert [r.status_code for r in replies] == [200] * 4, [r.text for r in replies]
        assert len({r.json()["choices"][0]["fabula"]["work_id"] for r in replies}) == 1
    assert len(works(fake_client)) == 5
    assert fake_client.app.state.fabula.key_locks._locks == {}  # nothing is left held


def test_an_abandoned_request_stops_and_frees_its_place(fabula_home: Path) -> None:
    long = {"messages": [{"role": "user", "content": "go on"}], "max_tokens": 2000}  # ~40 s on `slow`
    for base in serve(fabula_home, {"FABULA_ENGINE": "fake", "FABULA_MODEL": "slow"}):
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{base}/v1/chat/completions", json=long, timeout=1.0)
        deadline = time.monotonic() + 5
        while httpx.get(f"{base}/healthz").json()["in_use"] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert httpx.get(f"{base}/healthz").json()["in_use"] == 0  # before: held for the whole 40 s
        work = {"form": "story", "prompt": "a lantern", "sampling": {"max_tokens": 2000}}
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{base}/api/works", json=work, timeout=1.0)
        deadline = time.monotonic() + 5
        while httpx.get(f"{base}/healthz").json()["in_use"] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert httpx.get(f"{base}/healthz").json()["in_use"] == 0
        assert httpx.get(f"{base}/api/works").json()["works"] == []  # nothing half-written was saved
