"""The API beyond chat: plans co-written over HTTP as jobs, the story bible, picking a candidate,
training jobs with progress and cancelling, recommendations; each for its owner only."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fabula.api.app import create_app
from fabula.backends import close_all
from fabula.personalize.profiles import ProfileStore
from fabula.settings import Settings
from fabula.store.users import create_key
from tests.conftest import LOCAL, app_engine
from tests.test_plan import SCRIPT

LOGLINE = "A lighthouse keeper must choose between the ships and her brother."


@pytest.fixture
def client(fabula_home: Path) -> Iterator[TestClient]:
    with TestClient(
        create_app(Settings(home=fabula_home, engine="fake", model="scripted")), base_url=LOCAL
    ) as test_client:
        yield test_client
    close_all()


def _wait(client: TestClient, job_id: str, headers: dict[str, str] | None = None, timeout: float = 60) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/api/jobs/{job_id}", headers=headers or {}).json()
        if job["status"] in ("done", "failed", "cancelled", "interrupted") or time.monotonic() > deadline:
            return job  # type: ignore[no-any-return]
        time.sleep(0.05)


def test_a_plan_is_written_as_a_job_then_edited_regenerated_and_undone(client: TestClient) -> None:
    app_engine(client).scripts = list(SCRIPT)
    started = client.post(
        "/api/plans",
        json={
            "kind": "screenplay",
            "logline": LOGLINE,
            "template": "kishotenketsu",
            "cast": 2,
            "context": False,
            "seed": 7,
        },
    )
    assert started.status_code == 202, started.text
    job = _wait(client, started.json()["job"]["id"])
    assert job["status"] == "done", job
    assert job["progress"]["step"] == "review" and job["progress"]["done"] == job["progress"]["total"]
    plan_id = job["result"]["plan_id"]
    work = client.get(f"/api/works/{job['result']['work_id']}").json()
    assert work["form"] == "screenplay" and "THE LAST LIGHT" in work["text"].upper()

    plan = client.get(f"/api/plans/{plan_id}").json()
    assert plan["steps_done"] == plan["steps"] and plan["pending"] == []
    assert "Mara" in plan["levels"]["characters"] and "dialogue[3]" in plan["levels"]

    # a hand edit must parse, or nothing changes (400 naming the line)
    bad = client.put(f"/api/plans/{plan_id}/levels/characters", json={"text": "not a cast"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "text"
    assert client.get(f"/api/plans/{plan_id}").json()["levels"] == plan["levels"]
    new_title = client.put(f"/api/plans/{plan_id}/levels/title", json={"text": "Title: Keeper of the Rocks"})
    assert new_title.status_code == 200, new_title.text
    assert new_title.json()["levels"]["title"].strip() == "Title: Keeper of the Rocks"

    # regenerate one scene's dialogue as a job; undo restores it
    before = client.get(f"/api/plans/{plan_id}").json()["levels"]["dialogue[1]"]
    app_engine(client).scripts = [SCRIPT[-1].replace("slow beat", "fast beat")]
    redo = client.post(f"/api/plans/{plan_id}/regenerate", json={"target": "dialogue[1]"})
    assert redo.status_code == 202, redo.text
    assert _wait(client, redo.json()["job"]["id"])["status"] == "done"
    after = client.get(f"/api/plans/{plan_id}").json()["levels"]["dialogue[1]"]
    assert after != before and "fast beat" in after
    assert client.post(f"/api/plans/{plan_id}/undo").json()["levels"]["dialogue[1]"] == before
    assert client.post(f"/api/plans/{plan_id}/regenerate", json={"target": "dialogue[99]"}).status_code == 400


def test_the_bible_is_edited_over_http(client: TestClient) -> None:
    app_engine(client).scripts = list(SCRIPT)
    started = client.post(
        "/api/plans", json={"logline": LOGLINE, "template": "kishotenketsu", "cast": 2, "context": False}
    ).json()
    plan_id = started["plan_id"]
    assert _wait(client, started["job"]["id"])["status"] == "done"
    added = client.post(
        f"/api/plans/{plan_id}/bible",
        json={"kind": "fact", "name": "The Lens", "text": "Cracked in the storm of 1911."},
    )
    assert added.status_code == 201, added.text
    assert client.get(f"/api/plans/{plan_id}/bible").json()["bible"][0]["name"] == "The Lens"
    again = client.post(f"/api/plans/{plan_id}/bible", json={"kind": "fact", "name": "the lens", "text": "x"})
    assert again.status_code == 400 and again.json()["error"]["param"] == "name"
    assert (
        client.post(f"/api/plans/{plan_id}/bible", json={"kind": "spell", "name": "x", "text": "y"}).json()["error"][
            "param"
        ]
        == "kind"
    )
    assert client.delete(f"/api/plans/{plan_id}/bible/The%20Lens").json()["bible"] == []


def test_a_bad_plan_request_names_the_field(client: TestClient) -> None:
    for body, param in [
        ({"kind": "novel", "logline": LOGLINE}, "kind"),
        ({"logline": ""}, "logline"),
        ({"logline": LOGLINE, "cast": 9}, "cast"),
        ({"logline": LOGLINE, "cast": "2"}, "cast"),
        ({"logline": LOGLINE, "template": "sonnet"}, "template"),
        ({"logline": LOGLINE, "temperature": -1}, "temperature"),
        ({"logline": LOGLINE, "chapters": 3}, "chapters"),
    ]:
        reply = client.post("/api/plans", json=body)
        assert reply.status_code == 400, (body, reply.text)
        assert param in reply.json()["error"]["message"] or reply.json()["error"]["param"] == param
    assert client.get("/api/plans/nope..").status_code == 404
    assert client.get("/api/plans").json()["plans"] == []  # nothing half-made was kept


def test_picking_a_candidate_makes_it_the_work(client: TestClient) -> None:
    reply = client.post(
        "/v1/chat/completions",
        json={"model": "fabula-story", "messages": [{"role": "user", "content": "a fox"}], "n": 3, "seed": 4},
    ).json()
    work_id = reply["choices"][0]["fabula"]["work_id"]
    work = client.get(f"/api/works/{work_id}").json()
    ranked = [c["chosen"] for c in work["candidates"]].index(True)
    other = (ranked + 1) % 3
    picked = client.post(f"/api/works/{work_id}/pick", json={"index": other}).json()
    assert picked["text"] == work["candidates"][other]["text"]
    assert [c["chosen"] for c in picked["candidates"]] == [i == other for i in range(3)]
    assert picked["provenance"]["post"]["ranked_index"] == ranked
    for bad in (3, -1, "1", True, None):
        answer = client.post(f"/api/works/{work_id}/pick", json={"index": bad})
        assert answer.status_code == 400 and answer.json()["error"]["param"] == "index"


def test_a_training_job_reports_progress_and_can_be_cancelled(client: TestClient, fabula_home: Path) -> None:
    tiny = ["model.n_layer=1", "model.n_head=2", "model.n_embd=16", "model.block_size=16", "train.batch_size=4",
            "data.tokenizer=char", "data.min_count=1", "data.val_fraction=0.2", "train.eval_interval=5"]  # fmt: skip
    texts = [f"The sea was grey and the light turned, night {i}. " * 4 for i in range(20)]
    job = client.post("/api/train", json={"name": "tiny", "texts": texts, "overrides": tiny, "max_steps": 12})
    assert job.status_code == 202, job.text
    done = _wait(client, job.json()["job"]["id"], timeout=120)
    assert done["status"] == "done", done
    assert done["result"]["step"] == 12 and done["result"]["val_loss"] > 0
    assert (fabula_home / "models" / "tiny" / "config.json").is_file()
    assert client.post("/api/train", json={"name": "tiny", "texts": texts}).json()["error"]["param"] == "name"

    long = client.post("/api/train", json={"name": "long", "texts": texts, "overrides": tiny, "max_steps": 20000})
    job_id = long.json()["job"]["id"]
    deadline = time.monotonic() + 60
    while client.get(f"/api/jobs/{job_id}").json()["progress"].get("step") != "train" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.get(f"/api/jobs/{job_id}").json()["progress"]["done"] >= 1
    client.post(f"/api/jobs/{job_id}/cancel")
    assert _wait(client, job_id)["status"] == "cancelled"
    for body, param in [
        ({"name": "../x", "corpus": "austen"}, "name"),
        ({"name": "a", "corpus": "/etc"}, "corpus"),
        ({"name": "a"}, "corpus"),
        ({"name": "a", "texts": ["x"], "overrides": ["data.corpus=/etc"]}, "overrides"),
        ({"name": "a", "texts": ["x"], "overrides": ["model.n_wings=2"]}, None),
        ({"name": "a", "texts": [""]}, "texts"),
    ]:
        reply = client.post("/api/train", json=body)
        assert reply.status_code == 400, (body, reply.text)
        if param:
            assert reply.json()["error"]["param"] == param


def test_jobs_plans_and_recommendations_belong_to_their_owner(client: TestClient, fabula_home: Path) -> None:
    profiles = ProfileStore(Settings(home=fabula_home).db_url)
    for user in ("ann", "bob"):
        profiles.add_user(user, {})
    profiles.add_items(
        {
            "id": f"i{i}",
            "kind": "article",
            "title": f"Article {i}",
            "text": f"Story number {i} about the sea.",
            "tags": [],
        }
        for i in range(5)
    )
    keys = {u: {"Authorization": f"Bearer {create_key(profiles.engine, u)}"} for u in ("ann", "bob")}
    app_engine(client).scripts = list(SCRIPT)
    started = client.post(
        "/api/plans",
        json={"logline": LOGLINE, "template": "kishotenketsu", "cast": 2, "context": False},
        headers=keys["ann"],
    )
    plan_id, job_id = started.json()["plan_id"], started.json()["job"]["id"]
    assert _wait(client, job_id, keys["ann"])["status"] == "done"
    for method, path in [
        ("GET", f"/api/jobs/{job_id}"),
        ("POST", f"/api/jobs/{job_id}/cancel"),
        ("GET", f"/api/plans/{plan_id}"),
        ("GET", f"/api/plans/{plan_id}/bible"),
        ("POST", f"/api/plans/{plan_id}/undo"),
        ("POST", f"/api/plans/{plan_id}/resume"),
    ]:
        assert client.request(method, path, headers=keys["bob"]).status_code == 404, path
    assert client.get("/api/plans", headers=keys["bob"]).json()["plans"] == []
    assert client.get("/api/jobs", headers=keys["bob"]).json()["jobs"] == []
    assert [p["id"] for p in client.get("/api/plans", headers=keys["ann"]).json()["plans"]] == [plan_id]
    recs = client.get("/api/recommendations?k=3", headers=keys["ann"])
    assert recs.status_code == 200, recs.text
    assert recs.json()["user"] == "ann" and len(recs.json()["recommendations"]) == 3
    assert client.get("/api/recommendations?k=0", headers=keys["ann"]).json()["error"]["param"] == "k"


def test_a_plan_being_written_cannot_be_changed_underneath(client: TestClient) -> None:
    import threading

    app_engine(client).scripts = list(SCRIPT)
    started = client.post(
        "/api/plans", json={"logline": LOGLINE, "template": "kishotenketsu", "cast": 2, "context": False}
    ).json()
    assert _wait(client, started["job"]["id"])["status"] == "done"
    plan_id = started["plan_id"]
    jobs, release = client.app.state.fabula.jobs, threading.Event()  # type: ignore[attr-defined]
    holder = jobs.submit(None, "plan-resume", {}, lambda progress: release.wait(30) and {}, resource=f"plan {plan_id}")
    try:
        for method, path, body in [
            ("PUT", f"/api/plans/{plan_id}/levels/title", {"text": "Title: Other"}),
            ("POST", f"/api/plans/{plan_id}/undo", None),
            ("POST", f"/api/plans/{plan_id}/bible", {"kind": "fact", "name": "A", "text": "B"}),
            ("POST", f"/api/plans/{plan_id}/regenerate", {"target": "title"}),
            ("POST", f"/api/plans/{plan_id}/resume", None),
        ]:
            reply = client.request(method, path, json=body)
            assert reply.status_code == 409, (path, reply.text)
            assert holder["id"] in reply.json()["error"]["message"]
    finally:
        release.set()
    assert _wait(client, holder["id"])["status"] == "done"
    assert client.put(f"/api/plans/{plan_id}/levels/title", json={"text": "Title: Other"}).status_code == 200


def test_a_job_cut_off_by_a_restart_is_marked_interrupted(fabula_home: Path) -> None:
    import threading

    settings = Settings(home=fabula_home, engine="fake")
    first = create_app(settings)
    release = threading.Event()
    job = first.state.fabula.jobs.submit(None, "plan", {}, lambda progress: release.wait(30) and {})
    deadline = time.monotonic() + 10
    while first.state.fabula.jobs.get(None, job["id"])["status"] != "running" and time.monotonic() < deadline:
        time.sleep(0.02)
    second = create_app(settings)  # a new server on the same store, as after a crash
    seen = second.state.fabula.jobs.get(None, job["id"])
    assert seen["status"] == "interrupted" and "stopped" in seen["error"]
    release.set()
    first.state.fabula.jobs.shutdown()


def test_checks_and_export_over_http(client: TestClient) -> None:
    haiku = "An old silent pond\nA frog jumps into the pond\nSplash! Silence again"
    verse = client.post("/api/check", json={"check": "verse", "text": haiku, "form": "haiku"}).json()["report"]
    assert verse["ok"] is True
    broken = client.post("/api/check", json={"check": "verse", "text": "One line only", "form": "haiku"}).json()
    assert broken["report"]["ok"] is False and broken["report"]["violations"]
    tones = client.post("/api/check", json={"check": "verse", "text": "床前明月光", "form": "wujue"}).json()
    assert tones["report"]["ok"] is False
    safety = client.post("/api/check", json={"check": "safety", "text": "The storm broke the mast."}).json()
    assert safety["report"]["blocked"] is False
    originality = client.post("/api/check", json={"check": "originality", "text": "A fresh line of my own."}).json()
    assert originality["report"]["flagged"] is False
    for body, param in [({"check": "spelling", "text": "x"}, "check"), ({"check": "verse", "text": "x"}, "form"),
                        ({"check": "safety", "text": ""}, "text")]:  # fmt: skip
        assert client.post("/api/check", json=body).json()["error"]["param"] == param

    reply = client.post(
        "/v1/chat/completions", json={"model": "fabula-story", "messages": [{"role": "user", "content": "a fox"}]}
    )
    work_id = reply.json()["choices"][0]["fabula"]["work_id"]
    md = client.get(f"/api/works/{work_id}/export?format=md")
    assert md.status_code == 200 and "attachment" in md.headers["content-disposition"]
    assert reply.json()["choices"][0]["message"]["content"].strip() in md.text
    assert client.get(f"/api/works/{work_id}/export?format=docx").json()["error"]["param"] == "format"


def test_profile_and_feedback_over_http_for_the_signed_in_user_only(client: TestClient, fabula_home: Path) -> None:
    profiles = ProfileStore(Settings(home=fabula_home).db_url)
    for user in ("ann", "bob"):
        profiles.add_user(user, {"tone": "warm"})
    profiles.add_items([{"id": "i1", "kind": "article", "title": "Sea", "text": "About the sea.", "tags": []}])
    keys = {u: {"Authorization": f"Bearer {create_key(profiles.engine, u)}"} for u in ("ann", "bob")}
    assert client.get("/api/profile", headers=keys["ann"]).json()["preferences"] == {"tone": "warm"}
    changed = client.put("/api/profile", json={"tone": "wry", "genres": ["mystery"]}, headers=keys["ann"])
    assert changed.status_code == 200 and changed.json()["preferences"]["genres"] == ["mystery"]
    assert client.put("/api/profile", json={"mood": "x"}, headers=keys["ann"]).status_code == 400
    assert client.get("/api/profile", headers=keys["bob"]).json()["preferences"] == {"tone": "warm"}

    reply = client.post(
        "/v1/chat/completions", json={"model": "fabula-story", "messages": [{"role": "user", "content": "a fox"}]},
        headers=keys["ann"],
    )  # fmt: skip
    work_id = reply.json()["choices"][0]["fabula"]["work_id"]
    assert client.post("/api/feedback", json={"kind": "like", "item": "i1"}, headers=keys["ann"]).status_code == 201
    mine = client.post("/api/feedback", json={"kind": "edit", "item": work_id, "text": "My fox."}, headers=keys["ann"])
    assert mine.status_code == 201 and mine.json()["item"] == work_id
    theirs = client.post("/api/feedback", json={"kind": "accept", "item": work_id}, headers=keys["bob"])
    assert theirs.status_code == 404  # someone else's work
    assert (
        client.post("/api/feedback", json={"kind": "rate", "item": "i1", "value": 9}, headers=keys["ann"]).json()[
            "error"
        ]["param"]
        == "value"
    )
    assert client.get("/api/profile", headers=keys["ann"]).json()["events"] == 2
