"""The service floor: one request gives the same work on every surface, and every surface sees the
same store. The CLI, `/v1/chat/completions` with the `fabula` field, `POST /api/works` and a batch
item are run on the same request; their texts and provenance must agree (timestamps, ids and
timings aside)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from fabula.api.app import create_app
from fabula.backends import close_all
from fabula.cli.main import cli
from fabula.settings import Settings, get_settings
from tests.conftest import LOCAL

VOLATILE = {"created_at", "timing"}


def comparable(provenance: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in provenance.items() if k not in VOLATILE}


@pytest.fixture
def engine(fabula_home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The engine every surface runs on; set in the environment, as a user would set it."""
    monkeypatch.setenv("FABULA_ENGINE", "fake")
    get_settings.cache_clear()
    return "fake"


@pytest.fixture
def client(fabula_home: Path) -> Iterator[TestClient]:
    """The API on the environment's settings (made after `engine`, where a test asks for both)."""
    with TestClient(create_app(get_settings()), base_url=LOCAL) as test_client:
        yield test_client
    test_client.app.state.fabula.jobs.shutdown()  # type: ignore[attr-defined]
    close_all()


def through_every_surface(
    client: TestClient, form: str, prompt: str, inputs: dict[str, str], seed: int, user: str | None = None
) -> dict[str, dict[str, Any]]:
    """The same request on the CLI, /v1, /api/works and a batch item: each surface's saved work."""
    from fabula.batch.worker import run_item
    from fabula.store.works import WorkStore

    store = WorkStore(get_settings().db_url)
    args = ["write", form, prompt, "--seed", str(seed), "--json", *(f"--set={k}={v}" for k, v in inputs.items())]
    result = CliRunner().invoke(cli, args + (["--user", user] if user else []))
    assert result.exit_code == 0, result.output
    works = {"cli": json.loads(result.stdout)}
    body: dict[str, Any] = {"model": f"fabula-{form}", "messages": [{"role": "user", "content": prompt}], "seed": seed}
    body["fabula"] = {"inputs": inputs} | ({"user": user} if user else {})
    reply = client.post("/v1/chat/completions", json=body)
    assert reply.status_code == 200, reply.text
    works["v1"] = store.get(reply.json()["choices"][0]["fabula"]["work_id"])
    api = {"form": form, "prompt": prompt, "inputs": inputs, "sampling": {"seed": seed}, "user": user}
    reply = client.post("/api/works", json=api)
    assert reply.status_code == 201, reply.text
    works["api"] = reply.json()
    item = {"id": "one", "form": form, "prompt": prompt, "inputs": inputs, "user": user, "params": {"seed": seed}}
    done = run_item(item, None, "parity", store=True)
    assert done["status"] == "ok", done
    works["batch"] = store.get(done["work_id"])
    return works


def assert_same(works: dict[str, dict[str, Any]]) -> None:
    cli_work = works["cli"]
    for surface, work in works.items():
        assert work["text"] == cli_work["text"], surface
        assert comparable(work["provenance"]) == comparable(cli_work["provenance"]), surface
        assert [c["text"] for c in work["candidates"]] == [c["text"] for c in cli_work["candidates"]], surface


def test_a_story_is_the_same_work_on_every_surface(engine: str, client: TestClient) -> None:
    works = through_every_surface(client, "story", "a fox who collects keys", {"genre": "fantasy"}, seed=4)
    assert_same(works)
    assert works["cli"]["provenance"]["engine"] == "fake"


def test_a_story_for_a_user_with_a_voice_is_the_same_on_every_surface(engine: str, client: TestClient) -> None:
    from fabula.personalize.profiles import ProfileStore

    profiles = ProfileStore(get_settings().db_url)
    profiles.add_user("ana", {"genres": ["mystery"], "tone": "warm"})
    profiles.record("ana", "edit", "draft-1", text="The fog kept its own counsel, and so did the harbour master.")
    works = through_every_surface(client, "story", "a lost umbrella", {}, seed=9, user="ana")
    assert_same(works)
    voice = works["cli"]["provenance"]["personalization"]
    assert voice["user"] == "ana" and voice["examples"], voice
    # written for ana on any surface, the works are hers: her studio lists them
    from fabula.store.works import WorkStore

    mine = {w["id"] for w in WorkStore(get_settings().db_url).list(owner="ana")}
    assert {works[s]["id"] for s in works} <= mine


def test_a_chinese_wujue_is_the_same_work_on_every_surface(client: TestClient) -> None:
    """`fabula write poem 思乡 --set form=wujue --seed 4` and its /v1 twin: both on the Tang model."""
    works = through_every_surface(client, "poem", "思乡", {"form": "wujue"}, seed=4)
    assert_same(works)
    assert works["cli"]["provenance"]["engine"] == "gpt"
    lines = works["cli"]["text"].splitlines()
    assert len(lines) == 4 and all(len(line.rstrip("，。")) == 5 for line in lines), lines


def test_a_plan_made_in_the_studio_is_listed_and_exported_by_the_cli(fabula_home: Path) -> None:
    from fabula.personalize.profiles import ProfileStore
    from fabula.store.users import create_key
    from tests.test_plan import SCRIPT

    settings = Settings(home=fabula_home, engine="fake", model=str(_scripts(fabula_home, SCRIPT)))
    profiles = ProfileStore(settings.db_url)
    profiles.add_user("ana", {})
    key = {"Authorization": f"Bearer {create_key(profiles.engine, 'ana')}"}
    with TestClient(create_app(settings), base_url=LOCAL) as studio:
        started = studio.post(
            "/api/plans",
            json={
                "logline": "A keeper and a smuggler share a lamp.",
                "template": "kishotenketsu",
                "cast": 2,
                "context": False,
            },
            headers=key,
        )
        assert started.status_code == 202, started.text
        plan_id = started.json()["plan_id"]
        _wait_for_job(studio, started.json()["job"]["id"], key)
        studio.app.state.fabula.jobs.shutdown()  # type: ignore[attr-defined]
    listed = CliRunner().invoke(cli, ["plan", "list"])
    assert plan_id in listed.output
    out = fabula_home / "play.fountain"
    exported = CliRunner().invoke(cli, ["plan", "export", plan_id, str(out)])
    assert exported.exit_code == 0, exported.output
    assert out.is_file() and "INT." in out.read_text(encoding="utf-8").upper()
    close_all()


def _scripts(home: Path, scripts: list[str]) -> Path:
    path = home / "scripts.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"scripts": scripts}), encoding="utf-8")
    return path


def _wait_for_job(client: TestClient, job_id: str, headers: dict[str, str]) -> None:
    import time

    for _ in range(600):
        job = client.get(f"/api/jobs/{job_id}", headers=headers).json()
        if job["status"] in ("done", "failed", "cancelled", "interrupted"):
            assert job["status"] == "done", job["error"]
            return
        time.sleep(0.05)
    pytest.fail(f"job {job_id} did not finish")


def test_a_live_stream_is_remembered_after_the_websocket_closes(fabula_home: Path) -> None:
    from fabula.stream.memory import StreamMemory
    from fabula.stream.persona import persona_from_dict, save_persona
    from tests.test_stream import LUNA

    save_persona(persona_from_dict(LUNA), fabula_home / "personas" / "luna.yaml")
    settings = Settings(home=fabula_home, engine="fake", model="echo")
    with TestClient(create_app(settings), base_url=LOCAL) as client:
        with client.websocket_connect("ws://127.0.0.1/api/stream/ws?persona=luna") as socket:
            socket.send_json({"user": "mira", "text": "tell me about the lighthouse lanterns"})
            assert socket.receive_json()["type"] == "queued"
            assert socket.receive_json()["type"] == "reply"
        past = _eventually(lambda: StreamMemory(settings.db_url, "Luna").streams())  # the server closes it
    assert len(past) == 1 and "lanterns" in past[0]["text"] and past[0]["facts"]["answered"] == 1


def _eventually(probe: Any, seconds: float = 10.0) -> Any:
    import time

    deadline = time.monotonic() + seconds
    while not (found := probe()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def test_an_engine_failure_in_live_chat_is_reported_and_the_chat_goes_on(fabula_home: Path) -> None:
    from fabula.errors import BackendError
    from fabula.stream.persona import persona_from_dict, save_persona
    from tests.test_stream import LUNA

    save_persona(persona_from_dict(LUNA), fabula_home / "personas" / "luna.yaml")
    app = create_app(Settings(home=fabula_home, engine="fake", model="echo"))
    with TestClient(app, base_url=LOCAL) as client:
        with client.websocket_connect("ws://127.0.0.1/api/stream/ws?persona=luna") as socket:
            backend = app.state.fabula._backend
            real = backend.complete
            calls = {"n": 0}

            def flaky(request: Any, on_text: Any = None) -> Any:
                calls["n"] += 1
                if calls["n"] == 1:
                    raise BackendError("the engine fell over", engine="fake")
                return real(request, on_text)

            backend.complete = flaky
            socket.send_json({"user": "mira", "text": "first question about boats"})
            frames = [socket.receive_json() for _ in range(3)]  # queued, failed verdict, error
            assert [f["type"] for f in frames] == ["queued", "verdict", "error"]
            assert frames[1]["verdict"] == "failed" and "fell over" in frames[1]["reason"]
            socket.send_json({"user": "mira", "text": "second question about lamps"})
            assert socket.receive_json()["type"] == "queued"
            assert socket.receive_json()["type"] == "reply"  # the loop kept running
            backend.complete = real


def test_two_non_latin_personas_get_files_of_their_own(fabula_home: Path) -> None:
    from fabula.service.personas import PersonaStore, persona_slug
    from fabula.stream.persona import persona_from_dict, save_persona

    names = ["月兔", "Лиса", "Captain Mira"]
    assert len({persona_slug(n) for n in names}) == 3 and persona_slug("Captain Mira") == "captain-mira"
    store = PersonaStore(fabula_home)
    for name in names:
        card = fabula_home / f"card-{len(name)}-{ord(name[0])}.yaml"
        save_persona(persona_from_dict({"name": name, "system_prompt": f"You are {name}.", "style": "calm"}), card)
        store.add(card)
    assert [store.load(n).name for n in names] == names
