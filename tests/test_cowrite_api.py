"""/api/manuscripts: the co-writing loop over HTTP, for its owner only, and exactly what was
acknowledged after a server restart."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from fastapi.testclient import TestClient

from fabula.api.app import create_app
from fabula.backends import close_all
from fabula.personalize.profiles import ProfileStore
from fabula.responsible.provenance import verify
from fabula.settings import Settings
from fabula.store.users import create_key
from tests.conftest import LOCAL, app_engine

CHAPTER = "Mara kept the light.\n\nThe bottle came in March. She did not open it.\n"


def test_a_writer_rewrites_swipes_undoes_and_exports_and_another_user_sees_nothing(fabula_home: Path) -> None:
    settings = Settings(home=fabula_home, engine="fake", model="scripted")
    profiles = ProfileStore(settings.db_url)
    for user in ("ann", "bob"):
        profiles.add_user(user, {})
    keys = {u: {"Authorization": f"Bearer {create_key(profiles.engine, u)}"} for u in ("ann", "bob")}
    close_all("fake")
    with TestClient(create_app(settings), base_url=LOCAL) as client:
        made = client.post("/api/manuscripts", json={"title": "Gull Rock", "text": CHAPTER}, headers=keys["ann"])
        assert made.status_code == 201, made.text
        mid = made.json()["id"]
        doc = made.json()["documents"][0]
        assert doc["text"] == CHAPTER and doc["attribution"] == {"human_chars": len(CHAPTER), "model_chars": 0}
        app_engine(client).scripts = [
            "The bottle washed up in March, unopened.",
            "In March: a bottle. She left it shut.",
        ]
        start, end = CHAPTER.index("The bottle"), CHAPTER.index("\n", CHAPTER.index("The bottle"))
        body = {"start": start, "end": end, "instruction": "plainer", "n": 2, "seed": 7}
        answer = client.post(f"/api/manuscripts/{mid}/documents/d1/verbs/rewrite", json=body, headers=keys["ann"])
        assert answer.status_code == 200, answer.text
        data = answer.json()
        assert [c["text"] for c in data["candidates"]] != [] and data["document"] == (
            CHAPTER[:start] + data["text"] + CHAPTER[end:]
        )
        node = data["provenance"]["node"]
        other = 2 if data["chosen"] == 0 else 1
        swiped = client.post(
            f"/api/manuscripts/{mid}/documents/d1/move",
            json={"to": "swipe", "node": node, "candidate": other},
            headers=keys["ann"],
        ).json()
        assert "text" in swiped, swiped
        assert swiped["text"] == CHAPTER[:start] + data["candidates"][other - 1]["text"] + CHAPTER[end:]
        edited = swiped["text"].replace("Mara", "Old Mara")
        typed = client.put(f"/api/manuscripts/{mid}/documents/d1", json={"text": edited}, headers=keys["ann"]).json()
        model_chars = len(data["candidates"][other - 1]["text"])
        assert typed["attribution"] == {"human_chars": len(edited) - model_chars, "model_chars": model_chars}
        history = client.get(f"/api/manuscripts/{mid}/documents/d1/history", headers=keys["ann"]).json()
        assert [n["verb"] for n in history["nodes"]] == ["import", "rewrite", "rewrite", "edit"]
        exported = client.get(f"/api/manuscripts/{mid}/export?format=docx", headers=keys["ann"])
        assert exported.status_code == 200 and exported.content[:2] == b"PK"
        manifest = json.loads(base64.b64decode(exported.headers["x-fabula-provenance"]))
        assert manifest["attribution"]["model_chars"] == model_chars
        assert verify(manifest, exported.content)["content_matches"]
        for method, path in [
            ("GET", f"/api/manuscripts/{mid}"),
            ("POST", f"/api/manuscripts/{mid}/documents/d1/verbs/rewrite"),
            ("PUT", f"/api/manuscripts/{mid}/documents/d1"),
            ("GET", f"/api/manuscripts/{mid}/export"),
        ]:
            reply = client.request(method, path, json={"text": "x"}, headers=keys["bob"])
            assert reply.status_code == 404, (path, reply.text)
        assert client.get("/api/manuscripts", headers=keys["bob"]).json()["manuscripts"] == []
        bad = client.post(
            f"/api/manuscripts/{mid}/documents/d1/verbs/shrink", json={"start": 3, "end": 9999}, headers=keys["ann"]
        )
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "selection"
        wrong = client.post(f"/api/manuscripts/{mid}/documents/d1/verbs/summon", json={}, headers=keys["ann"])
        assert wrong.status_code == 400 and wrong.json()["error"]["param"] == "verb"
        acknowledged = client.get(f"/api/manuscripts/{mid}", headers=keys["ann"]).json()
    close_all("fake")
    with TestClient(create_app(settings), base_url=LOCAL) as client:  # a new server on the same home
        assert client.get(f"/api/manuscripts/{mid}", headers=keys["ann"]).json() == acknowledged
    close_all("fake")


def test_a_verb_streams_its_candidates_then_the_saved_result(fabula_home: Path) -> None:
    settings = Settings(home=fabula_home, engine="fake", model="scripted")
    close_all("fake")
    with TestClient(create_app(settings), base_url=LOCAL) as client:
        mid = client.post("/api/manuscripts", json={"title": "t", "text": CHAPTER}).json()["id"]
        app_engine(client).scripts = [
            "The bottle washed up in March, unopened.",
            "In March: a bottle. She left it shut.",
        ]
        start = CHAPTER.index("The bottle")
        end = CHAPTER.index("\n", start)
        body = {"start": start, "end": end, "n": 2, "seed": 1, "stream": True}
        with client.stream("POST", f"/api/manuscripts/{mid}/documents/d1/verbs/rewrite", json=body) as reply:
            assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/event-stream")
            events = [line[6:] for line in reply.iter_lines() if line.startswith("data: ")]
        assert events[-1] == "[DONE]"
        parsed = [json.loads(e) for e in events[:-1]]
        deltas = [e for e in parsed if "delta" in e]
        result = parsed[-1]["result"]
        by_attempt = {a: "".join(d["delta"] for d in deltas if d["attempt"] == a) for a in (0, 1)}
        assert {" ".join(t.split()) for t in by_attempt.values()} == {c["text"] for c in result["candidates"]}
        saved = client.get(f"/api/manuscripts/{mid}").json()["documents"][0]
        assert saved["text"] == result["document"] and saved["head"] == result["head"]  # saved before it was sent
        bad = {"start": 3, "end": 9999, "stream": True}
        with client.stream("POST", f"/api/manuscripts/{mid}/documents/d1/verbs/shrink", json=bad) as reply:
            events = [line[6:] for line in reply.iter_lines() if line.startswith("data: ")]
        assert json.loads(events[0])["error"]["param"] == "selection" and events[-1] == "[DONE]"
    close_all("fake")
