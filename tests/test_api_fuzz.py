"""Generated inputs against the API: schemathesis over the OpenAPI spec (no 5xx, ever), hypothesis
over SSE framing (no text breaks an event), and a property test of isolation over every route
the app has (a route added later is covered without touching this file)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fabula.api.app import create_app
from fabula.api.openai_routes import _event
from fabula.backends import close_all
from fabula.personalize.profiles import ProfileStore
from fabula.settings import Settings
from fabula.store.users import create_key
from tests.conftest import LOCAL, app_engine
from tests.test_plan import SCRIPT

# ---- schemathesis: every operation of the spec, generated bodies, parameters and headers ----


def _manuscript_ids(client: TestClient, headers: dict[str, str]) -> dict[str, str]:
    """A manuscript with one chapter, owned by whoever `headers` names: the ids its routes take."""
    made = client.post(
        "/api/manuscripts", json={"title": "Lamps", "text": "# One\n\nThe lamp was lit."}, headers=headers
    ).json()
    doc = made["documents"][0]
    return {"manuscript_id": made["id"], "doc_id": doc["id"], "node_id": doc["head"], "verb": "shrink"}


def _fuzz(operation: Any, ids: dict[str, str] | None, reached: list[int]) -> Any:
    @given(case=operation.as_strategy())
    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def no_server_error(case: Any) -> None:
        if ids is not None:
            case.path_parameters = {k: ids[k] for k in case.path_parameters}
        response = case.call(timeout=60)  # a cold first call loads models (the embedder imports in ~10 s)
        if ids is not None:
            reached.append(response.status_code)
        assert response.status_code < 500, (case.method, case.path, case.body, response.text[:300])
        if response.status_code >= 400 and response.headers.get("content-type") == "application/json":
            assert response.json()["error"]["type"] != "server_error"

    return no_server_error


def test_no_generated_request_gets_a_server_error(fabula_home: Path) -> None:
    """Every operation of /openapi.json, 30 generated requests each (bodies, parameters, ids).
    Training is left out: it starts real pretraining runs, and has its own validation matrix."""
    # schemathesis's ASGI client calls itself `testserver`: a name this server is told it answers to
    app = create_app(Settings(home=fabula_home, engine="fake", api_allowed_hosts="testserver"))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    # a second pass sends the generated bodies to things that exist (random ids only reach 404s)
    with TestClient(app, base_url=LOCAL) as client:
        plan = client.post("/api/plans", json={"logline": "A keeper and a smuggler."}).json()
        chat = {"model": "fabula-story", "messages": [{"role": "user", "content": "a fox"}], "n": 2}
        work = client.post("/v1/chat/completions", json=chat).json()["choices"][0]["fabula"]
        client.post(f"/api/plans/{plan['plan_id']}/bible", json={"name": "Lamp", "text": "Old."})
        manuscript = _manuscript_ids(client, {})
    real = {"plan_id": plan["plan_id"], "job_id": plan["job"]["id"], "work_id": work["work_id"]} | manuscript
    real |= {"target": "title", "name": "Lamp", "model_id": "fabula-story", "number": "1"}
    reached: list[int] = []  # statuses of the second pass
    for operation, ids in [(op, None) for op in operations] + [(op, real) for op in operations if "{" in op.path]:
        if operation.path != "/api/train":
            _fuzz(operation, ids, reached)()
    assert sum(code != 404 for code in reached) > len(reached) // 2, "the second pass should reach real things"
    app.state.fabula.jobs.shutdown()
    close_all()


# ---- hypothesis: SSE framing ------------------------------------------------------------------------


def _parse_sse(raw: bytes) -> list[Any]:
    """A strict reader: events are separated by a blank line, each a single `data: ` line of JSON
    (or the final `[DONE]`)."""
    text = raw.decode("utf-8")
    assert text.endswith("\n\n")
    out = []
    for event in text[:-2].split("\n\n"):
        assert event.startswith("data: ") and "\n" not in event and "\r" not in event, repr(event)
        out.append("[DONE]" if event == "data: [DONE]" else json.loads(event[6:]))
    return out


@given(st.lists(st.text(), min_size=1, max_size=8))
@settings(max_examples=300, deadline=None)
def test_no_text_breaks_sse_framing(pieces: list[str]) -> None:
    raw = b"".join(_event({"choices": [{"delta": {"content": piece}}]}) for piece in pieces)
    events = _parse_sse(raw)
    assert [e["choices"][0]["delta"]["content"] for e in events] == pieces


@pytest.fixture
def echo_client(fabula_home: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(home=fabula_home, engine="fake", model="echo")), base_url=LOCAL) as client:
        yield client
    close_all()


ODD_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=60
).filter(lambda t: t.strip())


@given(text=ODD_TEXT)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_streamed_reply_of_any_text_arrives_whole(echo_client: TestClient, text: str) -> None:
    """The echo engine streams the prompt back word by word: the events must rebuild it exactly."""
    body = {"messages": [{"role": "user", "content": text}], "stream": True, "max_tokens": 100}
    reply = echo_client.post("/v1/chat/completions", json=body)
    if reply.status_code == 400:  # the safety policy may refuse a prompt; it must say so as JSON
        assert reply.json()["error"]["param"] == "messages"
        return
    events = _parse_sse(reply.content)
    assert events[-1] == "[DONE]" and "[DONE]" not in events[:-1]
    chunks = events[:-1]
    streamed = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    if chunks[-1]["choices"][0]["finish_reason"] == "content_filter":  # cut at a blocked sentence
        assert text.startswith(streamed)
    else:
        assert streamed == text


# ---- isolation over every route ----------------------------------------------------------------------


@pytest.fixture
def two_users(fabula_home: Path) -> Iterator[tuple[TestClient, dict[str, dict[str, str]], dict[str, str]]]:
    """Ann owns one of everything (a work, a plan, a job, a manuscript); Bob owns nothing."""
    app = create_app(Settings(home=fabula_home, engine="fake", model="scripted"))
    with TestClient(app, base_url=LOCAL) as client:
        client.spec = app.openapi()  # type: ignore[attr-defined]
        profiles = ProfileStore(Settings(home=fabula_home).db_url)
        for user in ("ann", "bob"):
            profiles.add_user(user, {})
        keys = {u: {"Authorization": f"Bearer {create_key(profiles.engine, u)}"} for u in ("ann", "bob")}
        app_engine(client).scripts = list(SCRIPT)
        started = client.post(
            "/api/plans",
            json={"logline": "A keeper and a smuggler.", "template": "kishotenketsu", "cast": 2, "context": False},
            headers=keys["ann"],
        ).json()  # fmt: skip
        job = app.state.fabula.jobs.wait("ann", started["job"]["id"])
        assert job["status"] == "done", job
        ids = {
            "plan_id": started["plan_id"],
            "job_id": job["id"],
            "work_id": job["result"]["work_id"],
            "target": "title",
            "name": "Mara",
            "number": "1",
        } | _manuscript_ids(client, keys["ann"])
        yield client, keys, ids
    close_all()


def _snapshot(client: TestClient, headers: dict[str, str], ids: dict[str, str]) -> Any:
    return (
        client.get(f"/api/works/{ids['work_id']}", headers=headers).json(),
        client.get(f"/api/plans/{ids['plan_id']}", headers=headers).json(),
        client.get(f"/api/jobs/{ids['job_id']}", headers=headers).json(),
        client.get(f"/api/manuscripts/{ids['manuscript_id']}", headers=headers).json(),
    )


@given(
    body=st.one_of(
        st.none(),
        st.dictionaries(
            st.sampled_from(["index", "text", "target", "name", "kind"]), st.integers(0, 3) | st.text(max_size=10)
        ),
    )
)
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_one_users_key_never_reads_or_changes_anothers_data(
    two_users: tuple[TestClient, dict[str, dict[str, str]], dict[str, str]], body: dict[str, Any] | None
) -> None:
    client, keys, ids = two_users
    before = _snapshot(client, keys["ann"], ids)
    routes = {p: ops for p, ops in client.spec["paths"].items() if p.startswith("/api/") and "{" in p}  # type: ignore[attr-defined]
    assert len(routes) >= 12, list(routes)  # every route that takes an id, from the app's own spec
    for route, operations in routes.items():
        path = re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], route)
        for method in operations:
            reply = client.request(method.upper(), path, headers=keys["bob"], json=body)
            assert reply.status_code == 404, (method, path, reply.status_code, reply.text[:200])
    assert _snapshot(client, keys["ann"], ids) == before
