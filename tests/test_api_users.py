"""Users of the HTTP API: keys and passwords stored as hashes, isolation on every route, and
retries with an idempotency key that never make a second work."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from fabula.api.app import create_app
from fabula.backends import close_all
from fabula.cli.main import cli
from fabula.errors import InvalidParam
from fabula.personalize.profiles import ProfileStore
from fabula.settings import Settings
from fabula.store.db import api_keys, users
from fabula.store.users import check_password, create_key, hash_password, set_password
from tests.conftest import LOCAL

pytestmark = pytest.mark.usefixtures("each_database")

POEM = {"model": "fabula-story", "messages": [{"role": "user", "content": "a lantern"}], "max_tokens": 300, "seed": 1}


@pytest.fixture
def app_and_keys(fabula_home: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    close_all()
    settings = Settings(home=fabula_home, engine="fake")
    profiles = ProfileStore(settings.db_url)
    keys = {}
    for name in ("ana", "ben"):
        profiles.add_user(name)
        keys[name] = create_key(profiles.engine, name)
    with TestClient(create_app(settings), base_url=LOCAL) as client:
        yield client, keys
    close_all()


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_keys_and_passwords_are_stored_only_as_hashes(fabula_home: Path) -> None:
    profiles = ProfileStore(Settings(home=fabula_home).db_url)
    profiles.add_user("cy")
    key = create_key(profiles.engine, "cy")
    set_password(profiles.engine, "cy", "correct horse battery")
    with profiles.engine.connect() as conn:
        stored_keys = [r[0] for r in conn.execute(select(api_keys.c.key_hash))]
        stored_password = conn.execute(select(users.c.password_hash)).scalar_one()
    assert key not in stored_keys and len(stored_keys[0]) == 64
    assert "correct horse" not in stored_password and stored_password.startswith("scrypt$")
    assert check_password("correct horse battery", stored_password)
    assert not check_password("correct horse battery!", stored_password)
    with pytest.raises(InvalidParam, match="at least 10"):
        hash_password("short")


def test_once_a_key_exists_every_request_needs_one(app_and_keys: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = app_and_keys
    assert client.get("/v1/models").status_code == 401
    assert client.post("/v1/chat/completions", json=POEM, headers=auth("fsk_wrong")).status_code == 401
    reply = client.get("/v1/models", headers=auth(keys["ana"]))
    assert reply.status_code == 200
    assert client.get("/api/me", headers=auth(keys["ben"])).json() == {"user": "ben", "mode": "users"}
    assert client.get("/healthz").status_code == 200  # health needs no key


def test_a_user_can_never_read_or_change_another_users_work(app_and_keys: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = app_and_keys
    made = client.post("/v1/chat/completions", json=POEM, headers=auth(keys["ana"])).json()
    work_id = made["choices"][0]["fabula"]["work_id"]
    own = client.get(f"/api/works/{work_id}", headers=auth(keys["ana"]))
    assert own.status_code == 200 and own.json()["id"] == work_id
    for method, path in [
        ("GET", f"/api/works/{work_id}"),
        ("GET", f"/api/works/{work_id[:8]}"),
        ("GET", f"/api/works/{work_id}/provenance"),
        ("DELETE", f"/api/works/{work_id}"),
    ]:
        reply = client.request(method, path, headers=auth(keys["ben"]))
        assert reply.status_code == 404, (method, path)
    assert client.get("/api/works", headers=auth(keys["ben"])).json()["works"] == []
    assert [w["id"] for w in client.get("/api/works", headers=auth(keys["ana"])).json()["works"]] == [work_id]
    assert client.delete(f"/api/works/{work_id}", headers=auth(keys["ana"])).status_code == 200
    assert client.get(f"/api/works/{work_id}", headers=auth(keys["ana"])).status_code == 404


def test_retrying_with_an_idempotency_key_saves_once(app_and_keys: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = app_and_keys
    headers = auth(keys["ana"]) | {"Idempotency-Key": "order-42"}
    first = client.post("/v1/chat/completions", json=POEM, headers=headers).json()
    second = client.post("/v1/chat/completions", json=POEM, headers=headers).json()
    assert second["choices"][0]["fabula"]["work_id"] == first["choices"][0]["fabula"]["work_id"]
    assert second["choices"][0]["message"]["content"] == first["choices"][0]["message"]["content"]
    assert len(client.get("/api/works", headers=auth(keys["ana"])).json()["works"]) == 1
    other = client.post("/v1/chat/completions", json=POEM, headers=auth(keys["ben"]) | {"Idempotency-Key": "order-42"})
    assert other.json()["choices"][0]["fabula"]["work_id"] != first["choices"][0]["fabula"]["work_id"]


def test_cli_creates_keys_and_passwords() -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["user", "add", "dee"]).exit_code == 0
    made = runner.invoke(cli, ["user", "key", "create", "dee"])
    assert made.exit_code == 0 and made.stdout.strip().startswith("fsk_")
    assert runner.invoke(cli, ["user", "password", "dee", "--password", "a long enough one"]).exit_code == 0
    missing = runner.invoke(cli, ["user", "key", "create", "nobody"])
    assert missing.exit_code == 2 and "no such user" in missing.stderr
    assert json.loads(runner.invoke(cli, ["user", "show", "dee"]).stdout)["id"] == "dee"
