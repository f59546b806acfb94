"""The server's edges under attack: bodies bounded while they stream in, checks off the event loop,
one admission path for streams, streamer memory kept per owner, and no cross-origin writes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from fabula.api.app import create_app
from fabula.api.guard import MAX_BODY_BYTES
from fabula.settings import Settings
from tests.conftest import LOCAL
from tests.test_api import serve, start_server

HI = [{"role": "user", "content": "Say hello."}]


@pytest.fixture
def client(fabula_home: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(home=fabula_home, engine="fake")), base_url=LOCAL) as test_client:
        yield test_client


# ---- bodies ------------------------------------------------------------------------------------


def test_a_chunked_body_over_the_limit_is_a_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked, as an attacker would
        for _ in range(2 * MAX_BODY_BYTES // 65536):
            yield b"x" * 65536

    for route in ("/api/login", "/v1/chat/completions", "/api/plans"):
        reply = client.post(route, content=chunks(), headers={"content-type": "application/json"})
        assert reply.status_code == 413 and reply.json()["error"]["param"] == "body", route
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000 + b"]" * 100_000, b'{"messages": ' + b"[" * 50_000, b'{"seed": ' + b"9" * 100_000 + b"}"],
    ids=["nested-100k", "nested-unclosed", "100k-digit-integer"],
)
def test_hostile_json_is_a_400_on_every_json_route(client: TestClient, body: bytes) -> None:
    for route in ("/api/login", "/v1/chat/completions", "/api/check", "/api/plans"):
        reply = client.post(route, content=body, headers={"content-type": "application/json"})
        assert reply.status_code == 400, (route, reply.text[:200])
        assert reply.json()["error"]["param"] == "body"


def test_a_4mb_chat_request_does_not_freeze_other_clients(fabula_home: Path) -> None:
    """The safety check of a huge prompt runs on a worker thread: /healthz stays quick meanwhile."""
    big = {"messages": [{"role": "user", "content": "word " * 190_000}], "max_tokens": 4}
    for base in serve(fabula_home, {"FABULA_ENGINE": "fake", "FABULA_MODEL": "echo"}):
        done = threading.Event()

        def heavy(base: str = base, done: threading.Event = done) -> None:
            for _ in range(3):
                httpx.post(f"{base}/v1/chat/completions", json=big, timeout=120)
            done.set()

        worker = threading.Thread(target=heavy)
        worker.start()
        slowest = 0.0
        while not done.is_set():
            start = time.perf_counter()
            assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
            slowest = max(slowest, time.perf_counter() - start)
            time.sleep(0.05)
        worker.join()
        assert slowest < 0.5, f"/healthz took {slowest:.2f} s while a 4 MB prompt was checked"


def test_peak_memory_stays_bounded_under_a_gigabyte_of_chunked_body(fabula_home: Path) -> None:
    """A real server: a 1 GB chunked upload is refused at the limit and the rest is never read (the
    client is stopped within a few megabytes of it), and resident memory grows by under 64 MB."""
    process, base = start_server(fabula_home, {"FABULA_ENGINE": "fake"})
    sent = 0
    try:
        before = _rss_mb(process.pid)

        def gigabyte() -> Iterator[bytes]:
            nonlocal sent
            chunk = b"y" * (1 << 20)
            for _ in range(1024):
                sent += len(chunk)
                yield chunk

        try:
            reply = httpx.post(f"{base}/api/login", content=gigabyte(), timeout=60)
            assert reply.status_code == 413
        except httpx.HTTPError:
            pass  # the server may close the connection after its 413: the body was never read
        assert sent < 64 * (1 << 20), f"{sent >> 20} MiB were taken from a client for a 4 MiB limit"
        assert httpx.get(f"{base}/healthz").status_code == 200
        assert _rss_mb(process.pid) - before < 64
    finally:
        process.terminate()
        process.wait(timeout=10)


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        line = next(x for x in status if x.startswith("VmRSS"))
    return int(line.split()[1]) / 1024


# ---- admission ---------------------------------------------------------------------------------


def test_32_streams_against_a_queue_of_8_each_get_a_whole_stream_or_a_429(fabula_home: Path) -> None:
    body = {"messages": HI, "stream": True, "max_tokens": 40}

    def one(base: str) -> tuple[int, str]:
        with httpx.Client(timeout=60) as session:
            with session.stream("POST", f"{base}/v1/chat/completions", json=body) as reply:
                text = "".join(reply.iter_text())
                return reply.status_code, text

    env = {"FABULA_ENGINE": "fake", "FABULA_MODEL": "slow", "FABULA_API_MAX_QUEUE": "8"}
    for base in serve(fabula_home, env):
        with ThreadPoolExecutor(max_workers=32) as pool:
            results = list(pool.map(one, [base] * 32))
    codes = [code for code, _ in results]
    assert set(codes) <= {200, 429} and 429 in codes and 200 in codes, codes
    for code, text in results:
        if code == 200:
            assert text.rstrip().endswith("data: [DONE]") and '"finish_reason":"length"' in text.replace(" ", "")


# ---- streamer memory ---------------------------------------------------------------------------


def test_one_users_viewers_never_reach_another_users_stream(settings: Settings) -> None:
    from fabula.stream.memory import REGULAR_AFTER, StreamMemory

    ana = StreamMemory(settings.db_url, "Luna", owner="ana")
    bob = StreamMemory(settings.db_url, "Luna", owner="bob")
    for _ in range(REGULAR_AFTER + 1):
        ana.note_message("mira", "the secret garden of lanterns")
    ana.remember_stream("A stream about lanterns with mira.", {"answered": 3})
    assert ana.is_regular("mira") and not bob.is_regular("mira")
    assert bob.recall(["mira"], "lanterns") == []
    assert any("mira" in row for row in ana.recall(["mira"], "lanterns"))
    local = StreamMemory(settings.db_url, "Luna")  # local mode (no owner) is a third, separate memory
    assert local.viewer("mira") is None and local.streams() == []


# ---- origins and hosts -------------------------------------------------------------------------


def _state(client: TestClient) -> tuple[int, int]:
    works = len(client.get("/api/works").json()["works"])
    plans = len(client.get("/api/plans").json()["plans"])
    return works, plans


CROSS_SITE: list[tuple[str, str, dict[str, Any] | None, bytes | None, str]] = [
    ("POST", "/v1/chat/completions", {"model": "fabula-story", "messages": HI}, None, "application/json"),
    ("POST", "/api/plans", {"logline": "A keeper and a smuggler."}, None, "application/json"),
    ("POST", "/api/train", None, b"corpus=austen&steps=10", "application/x-www-form-urlencoded"),
    ("POST", "/api/login", None, b'{"user": "a", "password": "b"}', "text/plain"),
]


@pytest.mark.parametrize(("method", "path", "json_body", "raw", "kind"), CROSS_SITE)
def test_a_page_on_another_origin_changes_nothing(
    client: TestClient, method: str, path: str, json_body: dict[str, Any] | None, raw: bytes | None, kind: str
) -> None:
    before = _state(client)
    headers = {"origin": "https://attacker.example", "content-type": kind}
    reply = client.request(method, path, json=json_body, content=raw, headers=headers)
    assert reply.status_code == 403 and reply.json()["error"]["param"] == "Origin"
    assert _state(client) == before
    # the same request from the server's own page, or from a client that is not a browser, is served
    own = client.request(method, path, json=json_body, content=raw, headers={"origin": LOCAL, "content-type": kind})
    assert own.status_code != 403


def test_no_cors_fetch_without_origin_but_marked_cross_site_is_refused(client: TestClient) -> None:
    reply = client.post("/v1/chat/completions", json={"messages": HI}, headers={"sec-fetch-site": "cross-site"})
    assert reply.status_code == 403


def test_a_rebound_host_name_reads_nothing(client: TestClient) -> None:
    reply = client.get("/api/works", headers={"host": "attacker.example"})
    assert reply.status_code == 400 and "attacker.example" in reply.json()["error"]["message"]
    assert client.get("/api/works", headers={"host": "localhost:8000"}).status_code == 200
    assert client.get("/api/works", headers={"host": "[::1]:8000"}).status_code == 200


def test_a_name_the_server_is_told_about_is_served(fabula_home: Path) -> None:
    settings = Settings(home=fabula_home, engine="fake", api_allowed_hosts="studio.example.org")
    with TestClient(create_app(settings), base_url="http://studio.example.org") as named:
        assert named.get("/api/works").status_code == 200
        assert named.get("/api/works", headers={"host": "other.example.org"}).status_code == 400


def test_a_cross_origin_websocket_is_refused_before_it_opens(client: TestClient) -> None:
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect) as refused:
        with client.websocket_connect(
            "ws://127.0.0.1/api/stream/ws?persona=luna", headers={"origin": "https://attacker.example"}
        ):
            pass
    assert refused.value.code == 4403
