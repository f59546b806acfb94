"""The web studio page: served by the same process, no inline code, generated text only ever set
as text, and a sign-in that turns a password into a session key."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fabula.api.app import create_app
from fabula.backends import close_all
from fabula.personalize.profiles import ProfileStore
from fabula.settings import Settings
from fabula.store.users import create_key, set_password
from tests.conftest import LOCAL

STATIC = resources.files("fabula.api").joinpath("static")


@pytest.fixture
def client(fabula_home: Path) -> Iterator[TestClient]:
    close_all()
    with TestClient(create_app(Settings(home=fabula_home, engine="fake")), base_url=LOCAL) as test_client:
        yield test_client
    close_all()


def test_the_page_and_its_files_are_served_under_a_strict_policy(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "object-src 'none'" in policy
    assert client.get("/static/studio.js").status_code == 200
    assert client.get("/static/studio.css").status_code == 200


def test_no_inline_code_and_no_html_sinks() -> None:
    html = STATIC.joinpath("index.html").read_text()
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))  # no inline scripts
    assert not re.search(r"\son[a-z]+\s*=", html)  # no inline event handlers
    script = STATIC.joinpath("studio.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script, sink
    assert "textContent" in script


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_script_parses() -> None:
    done = subprocess.run(["node", "--check", str(STATIC.joinpath("studio.js"))], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_sign_in_turns_a_password_into_a_session_key(client: TestClient, fabula_home: Path) -> None:
    profiles = ProfileStore(Settings(home=fabula_home).db_url)
    profiles.add_user("eve")
    set_password(profiles.engine, "eve", "a long passphrase")
    assert client.post("/api/login", json={"user": "eve", "password": "a long passphrase"}).status_code == 409
    assert client.get("/api/me").json()["mode"] == "local"  # signing in never turns users on
    create_key(profiles.engine, "eve", "admin")
    wrong = client.post("/api/login", json={"user": "eve", "password": "not it at all"})
    unknown = client.post("/api/login", json={"user": "nobody", "password": "a long passphrase"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"]["message"] == unknown.json()["error"]["message"]
    key = client.post("/api/login", json={"user": "eve", "password": "a long passphrase"}).json()["key"]
    assert client.get("/api/me", headers={"Authorization": f"Bearer {key}"}).json()["user"] == "eve"
    assert client.get("/api/me").status_code == 401  # keys exist: the studio must sign in


def test_the_api_reference_is_local_and_lists_every_error_answer(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", page.text))  # no inline scripts
    assert "cdn" not in page.text.lower()
    assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
    redoc = client.get("/redoc")
    assert redoc.status_code == 200 and "unsafe-inline" in redoc.headers["content-security-policy"]
    assert "script-src 'self';" in redoc.headers["content-security-policy"]  # styles only, never scripts
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    spec = client.get("/openapi.json").json()
    chat = spec["paths"]["/v1/chat/completions"]["post"]["responses"]
    assert {"400", "401", "413", "429", "507"} <= set(chat)
    assert chat["429"]["content"]["application/json"]["schema"]["required"] == ["error"]
