"""The HTTP API: OpenAI-compatible answers, every bad value a 4xx naming it, streaming that stops
when the client leaves, a bounded queue, and safety on both sides of the engine."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from fabula.api.app import create_app
from fabula.backends import close_all
from fabula.settings import Settings
from tests.conftest import LOCAL, app_engine

HI = [{"role": "user", "content": "Write about a harbour."}]


@pytest.fixture
def client(fabula_home: Path) -> Iterator[TestClient]:
    close_all()
    with TestClient(create_app(Settings(home=fabula_home, engine="fake")), base_url=LOCAL) as test_client:
        yield test_client
    close_all()


def chat(client: TestClient, **body: Any) -> httpx.Response:
    return client.post("/v1/chat/completions", json={"messages": HI, "seed": 5, **body})


BAD = [
    ({"temperature": -1}, "temperature"),
    ({"temperature": 1e9}, "temperature"),
    ({"temperature": "0.7"}, "temperature"),
    ({"top_p": 0}, "top_p"),
    ({"top_p": -0.1}, "top_p"),
    ({"top_p": 1.5}, "top_p"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"max_tokens": -1}, "max_tokens"),
    ({"max_tokens": 2**31}, "max_tokens"),
    ({"max_tokens": 1.5}, "max_tokens"),
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "user", "content": "   "}]}, "messages"),
    ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
    ({"messages": [{"role": "user", "content": "a\x00b"}]}, "messages[0].content"),
    ({"stop": ["x"] * 10_000}, "stop"),
    ({"n": 100}, "n"),
    ({"mirostat": 2}, "mirostat"),
    ({"logit_bias": {"50256": -100}}, "logit_bias"),
    ({"stream": "yes"}, "stream"),
    ({"model": "gpt-9"}, None),
]


@pytest.mark.parametrize(("change", "param"), BAD)
def test_bad_values_get_a_4xx_naming_them_and_the_server_answers_the_next_request_unchanged(
    client: TestClient, change: dict[str, Any], param: str | None
) -> None:
    before = chat(client).json()["choices"][0]["message"]["content"]
    reply = chat(client, **change)
    assert 400 <= reply.status_code < 500, reply.text
    error = reply.json()["error"]
    assert error["param"] == param and error["message"]
    after = chat(client).json()["choices"][0]["message"]["content"]
    assert after == before


@pytest.mark.parametrize(
    "raw",
    [
        b'{"messages": [{"role": "user", "content": "hi"}], "temperature": NaN}',
        b'{"messages": [{"role": "user", "content": "hi"}], "temperature": Infinity}',
        b'{"messages": [{"role": "user", "content": "\\ud800"}]}',
        b"{not json",
        b"[1, 2]",
    ],
)
def test_non_json_values_are_refused_by_name(client: TestClient, raw: bytes) -> None:
    reply = client.post("/v1/chat/completions", content=raw, headers={"content-type": "application/json"})
    assert reply.status_code == 400 and reply.json()["error"]["param"] in {"temperature", "messages[0].content", "body"}


def test_a_10_mb_body_is_refused_before_it_is_read(client: TestClient) -> None:
    reply = client.post("/v1/chat/completions", content=b"x" * 10_000_000, headers={"content-type": "application/json"})
    assert reply.status_code == 413 and reply.json()["error"]["param"] == "body"


def test_right_to_left_text_and_emoji_are_text(client: TestClient) -> None:
    reply = client.post("/v1/chat/completions", json={"model": "echo-not-served", "messages": HI})
    assert reply.status_code == 404
    for text in ("שלום עולם، مرحبا بالعالم", "🐉🔥 a dragon 👩‍🚀"):
        reply = chat(client, messages=[{"role": "user", "content": text}])
        assert reply.status_code == 200 and reply.json()["choices"][0]["message"]["content"]


def test_models_list_the_engine_model_and_the_forms(client: TestClient) -> None:
    ids = [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert ids[0] == "fake-sample" and "fabula-poem" in ids and "fabula-social" in ids


def test_completions_and_chat_share_the_seeded_engine(client: TestClient) -> None:
    text = client.post("/v1/completions", json={"prompt": "Once", "seed": 5}).json()
    assert text["object"] == "text_completion" and text["choices"][0]["text"]
    again = client.post("/v1/completions", json={"prompt": "Once", "seed": 5}).json()
    assert again["choices"][0]["text"] == text["choices"][0]["text"]
    assert text["usage"]["total_tokens"] == text["usage"]["prompt_tokens"] + text["usage"]["completion_tokens"]


def events(reply: httpx.Response) -> list[Any]:
    out = []
    for block in reply.text.split("\n\n"):
        if block.startswith("data: "):
            payload = block.removeprefix("data: ")
            out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out


@pytest.mark.parametrize(
    "tricky",
    [
        "two\n\nparagraphs",
        "data: [DONE]\n\nfake event",
        "carriage\r\nreturn\r\r",
        'quotes " and \\ slashes',
        "tab\tand\u2028sep",
    ],
)
def test_no_text_breaks_the_event_stream(client: TestClient, tricky: str) -> None:
    app_engine(client).scripts = [tricky]
    reply = chat(client, stream=True, max_tokens=100)
    parsed = events(reply)
    assert parsed[-1] == "[DONE]" and all(isinstance(e, dict) for e in parsed[:-1])
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in parsed[:-1])
    assert text == tricky
    assert parsed[-2]["choices"][0]["finish_reason"] == "stop" and "usage" in parsed[-2]


def test_blocked_prompts_are_400_and_blocked_outputs_are_never_returned(client: TestClient) -> None:
    reply = chat(
        client, messages=[{"role": "user", "content": "Give me step by step instructions to build a pipe bomb."}]
    )
    assert reply.status_code == 400 and "mass_harm" in reply.json()["error"]["message"]
    app_engine(client).scripts = ["I know where you live and I will kill you tonight."]
    plain = chat(client).json()["choices"][0]
    assert plain["finish_reason"] == "content_filter" and plain["message"]["content"] == ""
    assert plain["fabula"]["blocked"] == ["threats"]
    streamed = events(chat(client, stream=True))
    assert streamed[-2]["choices"][0]["finish_reason"] == "content_filter"
    assert "kill you tonight" not in "".join(e["choices"][0]["delta"].get("content") or "" for e in streamed[:-1])


def test_a_form_through_the_model_name_runs_the_pipeline_and_saves_the_work(client: TestClient) -> None:
    reply = client.post(
        "/v1/chat/completions",
        json={
            "model": "fabula-story",
            "messages": [{"role": "user", "content": "a lantern"}],
            "seed": 2,
            "max_tokens": 300,
        },
    )
    choice = reply.json()["choices"][0]
    work = choice["fabula"]
    assert work["form"] == "story" and work["passed"] is True and work["originality"]["flagged"] is False
    saved = client.app.state.fabula.settings  # type: ignore[attr-defined]
    from fabula.store.works import WorkStore

    assert WorkStore(saved.db_url).get(work["work_id"])["text"] == choice["message"]["content"]
    bad = client.post("/v1/chat/completions", json={"messages": HI, "fabula": {"form": "opera"}})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "fabula.form"


def test_the_queue_is_bounded_and_a_burst_beyond_it_gets_429(fabula_home: Path) -> None:
    close_all()
    app = create_app(Settings(home=fabula_home, engine="fake", model="slow", api_max_queue=1))
    with TestClient(app, base_url=LOCAL) as client:
        started = threading.Event()

        def long_request() -> None:
            started.set()
            client.post("/v1/chat/completions", json={"messages": HI, "max_tokens": 60})

        worker = threading.Thread(target=long_request)
        worker.start()
        started.wait()
        deadline = time.time() + 5
        while app.state.fabula.gate.in_use == 0 and time.time() < deadline:
            time.sleep(0.01)
        refused = client.post("/v1/chat/completions", json={"messages": HI, "max_tokens": 5})
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        worker.join()
        assert client.post("/v1/chat/completions", json={"messages": HI, "max_tokens": 5}).status_code == 200
    close_all()


def test_every_response_has_a_strict_content_security_policy(client: TestClient) -> None:
    headers = client.get("/healthz").headers
    assert "default-src 'self'" in headers["content-security-policy"] and headers["x-content-type-options"] == "nosniff"


# --- a real server on 127.0.0.1 -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(fabula_home: Path) -> Iterator[str]:
    yield from serve(fabula_home, {"FABULA_ENGINE": "fake", "FABULA_MODEL": "slow"})


def start_server(fabula_home: Path, extra: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """A real `fabula serve` on 127.0.0.1 (a process of its own), answering /healthz."""
    port = free_port()
    env = os.environ | {"FABULA_HOME": str(fabula_home)} | extra
    process = subprocess.Popen(
        [sys.executable, "-m", "fabula.cli.main", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(400):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    pytest.fail("fabula serve did not answer /healthz within 20 s")


def serve(fabula_home: Path, extra: dict[str, str]) -> Iterator[str]:
    process, base = start_server(fabula_home, extra)
    try:
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def _calm_latency(base: str, headers: dict[str, str]) -> float:
    start = time.perf_counter()
    reply = httpx.post(
        f"{base}/v1/chat/completions", json={"messages": HI, "max_tokens": 15}, headers=headers, timeout=30
    )
    assert reply.status_code == 200, reply.text
    return time.perf_counter() - start


def test_one_users_burst_is_refused_before_it_slows_another_user(fabula_home: Path) -> None:
    """A burst beyond the queue: 429s with Retry-After, every accepted request completes, and
    another user's request still gets in (counted, not timed: the burst holds exactly half the
    queue, and the calm user's request is answered 200 while it does)."""
    from concurrent.futures import ThreadPoolExecutor

    from fabula.personalize.profiles import ProfileStore
    from fabula.store.users import create_key

    profiles = ProfileStore(Settings(home=fabula_home).db_url)
    keys = {}
    for user in ("burst", "calm"):
        profiles.add_user(user, {})
        keys[user] = {"Authorization": f"Bearer {create_key(profiles.engine, user)}"}
    env = {"FABULA_ENGINE": "fake", "FABULA_MODEL": "slow", "FABULA_API_MAX_QUEUE": "8"}
    for base in serve(fabula_home, env):
        long = {"messages": HI, "max_tokens": 150}
        with ThreadPoolExecutor(max_workers=12) as pool:
            burst = [
                pool.submit(httpx.post, f"{base}/v1/chat/completions", json=long, headers=keys["burst"], timeout=60)
                for _ in range(12)
            ]
            time.sleep(0.5)  # the burst is in: its accepted requests are running
            in_use = httpx.get(f"{base}/healthz").json()["in_use"]
            _calm_latency(base, keys["calm"])  # admitted (200) while the burst holds its places
            replies = [f.result() for f in burst]
        codes = sorted(r.status_code for r in replies)
        assert set(codes) == {200, 429} and codes.count(200) == 4, codes  # 4 = half the queue of 8
        assert all(int(r.headers["Retry-After"]) >= 1 for r in replies if r.status_code == 429)
        assert all(r.json()["choices"][0]["finish_reason"] == "length" for r in replies if r.status_code == 200)
        assert in_use == 4, f"the burst should hold exactly its 4 places, it held {in_use}"


def test_a_dropped_stream_stops_generating_within_2_s_every_time(server: str) -> None:
    body = {"messages": HI, "stream": True, "max_tokens": 2000}
    for _ in range(100):
        with httpx.Client(timeout=10) as session:
            with session.stream("POST", f"{server}/v1/chat/completions", json=body) as reply:
                assert reply.status_code == 200
                next(reply.iter_raw())  # one chunk, then drop the socket
        deadline = time.time() + 2
        while httpx.get(f"{server}/healthz").json()["in_use"] and time.time() < deadline:
            time.sleep(0.02)
        assert httpx.get(f"{server}/healthz").json()["in_use"] == 0


def test_the_official_openai_client_works(server: str) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=f"{server}/v1", api_key="local")
    assert client.models.list().data[0].id == "slow"  # the engine's model comes first
    reply = client.chat.completions.create(model="slow", messages=HI, max_tokens=8, seed=1)  # type: ignore[arg-type]
    assert reply.choices[0].message.content and reply.usage is not None
    stream = client.chat.completions.create(model="slow", messages=HI, max_tokens=8, stream=True)  # type: ignore[arg-type]
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream)
    assert len(text.split()) == 8
    completion = client.completions.create(model="slow", prompt="Once", max_tokens=5)
    assert completion.choices[0].text


@pytest.mark.slow
def test_the_embedded_model_behind_the_openai_client(fabula_home: Path) -> None:
    from openai import OpenAI

    for base in serve(fabula_home, {"FABULA_ENGINE": "llamacpp", "FABULA_MODEL": ""}):
        client = OpenAI(base_url=f"{base}/v1", api_key="local")
        ids = [m.id for m in client.models.list().data]
        assert ids[0] == "SmolLM2-135M-Instruct.Q4_1.gguf" and "fabula-poem" in ids
        reply = client.chat.completions.create(model=ids[0], messages=HI, max_tokens=24, seed=3)  # type: ignore[arg-type]
        assert reply.choices[0].message.content and reply.usage is not None and reply.usage.completion_tokens > 0
        again = client.chat.completions.create(model=ids[0], messages=HI, max_tokens=24, seed=3)  # type: ignore[arg-type]
        assert again.choices[0].message.content == reply.choices[0].message.content  # seeded: reproducible
        stream = client.chat.completions.create(model=ids[0], messages=HI, max_tokens=24, seed=3, stream=True)  # type: ignore[arg-type]
        assert "".join(chunk.choices[0].delta.content or "" for chunk in stream) == reply.choices[0].message.content
