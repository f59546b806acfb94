"""The streamer in a polled REST chat shaped like YouTube Live's `liveChatMessages`.

The platform is a local HTTP server that follows the published shape (pages of items with
`nextPageToken` and `pollingIntervalMillis`, `snippet`/`authorDetails`, Super Chats in
`superChatDetails.amountMicros`, errors as `{"error": {"errors": [{"reason": ...}]}}`), and can
fail on purpose: a 503 on a post, a rate limit on a read, the chat ending.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from fabula.errors import InvalidParam
from fabula.stream.live import ChatMessage
from fabula.stream.polled import PolledChat

LUNA = {"name": "Luna", "system_prompt": "You are Luna, a cheerful virtual streamer.", "style": "upbeat"}
TOKEN = "secret-token"


class FakeChat:
    """The platform's side: what viewers say, what the streamer posted, and failures to serve."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []  # every message of the chat, in order
        self.posted: list[str] = []
        self.auth: set[str] = set()
        self.fail_posts = 0  # the next N posts answer 503
        self.limit_reads = 0  # the next N reads answer 403 rateLimitExceeded
        self.ended = False
        self.reads = 0
        self.lock = threading.Lock()

    def say(self, name: str, text: str, micros: int = 0, **flags: bool) -> None:
        kind = "superChatEvent" if micros else "textMessageEvent"
        snippet: dict[str, Any] = {"type": kind, "displayMessage": text}
        if micros:
            snippet["superChatDetails"] = {"amountMicros": str(micros), "currency": "USD"}
        with self.lock:
            self.items.append(
                {"id": f"m{len(self.items)}", "snippet": snippet, "authorDetails": {"displayName": name, **flags}}
            )


def serve(chat: FakeChat) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, reason: str) -> None:
            self._answer(status, {"error": {"code": status, "errors": [{"reason": reason}]}})

        def _checked(self) -> bool:
            chat.auth.add(self.headers.get("Authorization", ""))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._error(401, "authError")
                return False
            if chat.ended:
                self._error(403, "liveChatEnded")
                return False
            return True

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = parse_qs(url.query)
            if url.path != "/youtube/v3/liveChat/messages" or query.get("liveChatId") != ["chat123"]:
                self._error(404, "liveChatNotFound")
                return
            if not self._checked():
                return
            if chat.limit_reads:
                chat.limit_reads -= 1
                self._error(403, "rateLimitExceeded")
                return
            start = int(query.get("pageToken", ["0"])[0])
            with chat.lock:
                items = chat.items[start:]
                chat.reads += 1
            self._answer(200, {"items": items, "nextPageToken": str(start + len(items)), "pollingIntervalMillis": 100})

        def do_POST(self) -> None:
            if not self._checked():
                return
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if chat.fail_posts:
                chat.fail_posts -= 1
                self._error(503, "backendError")
                return
            text = body["snippet"]["textMessageDetails"]["messageText"]
            with chat.lock:
                chat.posted.append(text)
                item = {"id": f"m{len(chat.items)}", "snippet": {"type": "textMessageEvent", "displayMessage": text}}
                chat.items.append(item | {"authorDetails": {"displayName": "Luna", "isChatOwner": True}})
            self._answer(200, {"id": item["id"], "snippet": body["snippet"]})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def platform() -> Iterator[tuple[FakeChat, str]]:
    chat = FakeChat()
    server = serve(chat)
    yield chat, f"http://127.0.0.1:{server.server_address[1]}/youtube/v3"
    server.shutdown()
    server.server_close()


def test_the_streamer_answers_a_polled_chat_until_the_platform_ends_it(
    platform: tuple[FakeChat, str], tmp_path: Path, fabula_home: Path
) -> None:
    chat, api = platform
    chat.say("Early", "said before the stream went live")  # the first page: history, not answered
    chat.fail_posts = 1  # the first reply meets a 503 and is posted again
    chat.limit_reads = 1
    persona = tmp_path / "luna.yaml"
    persona.write_text(yaml.safe_dump(LUNA), encoding="utf-8")
    env = {**os.environ, "FABULA_HOME": str(fabula_home), "FABULA_ENGINE": "fake", "FABULA_MODEL": "echo"}
    env["FABULA_YOUTUBE_TOKEN"] = TOKEN
    command = [sys.executable, "-c", "from fabula.cli.main import main; main()", "stream", "live", str(persona)]
    args = ["--youtube", "chat123", "--api", api, "--max-seconds", "60", "--json", "--no-memory"]
    with subprocess.Popen([*command, *args], env=env, stdout=subprocess.PIPE, text=True) as streamer:
        deadline = time.monotonic() + 30
        while chat.reads < 2 and time.monotonic() < deadline:  # past the history page
            time.sleep(0.05)
        chat.say("Ana", "hi Luna, what game today?", isChatSponsor=True)
        chat.say("Ben", "I will find where you live and hurt you")
        chat.say("Cleo", "love the stream!", micros=5_000_000)
        while len(chat.posted) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        chat.ended = True  # the platform ends the chat: the stream ends, long before --max-seconds
        output, _ = streamer.communicate(timeout=60)
    result = json.loads(output)
    by_user = {r["user"]: r for r in result["replies"]}
    assert set(by_user) == {"Ana", "Ben", "Cleo"}  # the history was not answered, nor Luna's own lines
    assert by_user["Ben"]["verdict"] == "blocked" and by_user["Ana"]["verdict"] == "answered"
    assert by_user["Cleo"]["verdict"] == "answered"
    assert any(text.startswith("@Ana") or " @Ana " in text for text in chat.posted)
    assert not any("@Ben" in text for text in chat.posted)
    assert all(len(text) <= 200 for text in chat.posted)
    assert chat.auth == {f"Bearer {TOKEN}"}
    assert result["summary"]["chat_ended"] == "liveChatEnded" and result["summary"]["seconds"] < 55
    assert result["summary"]["lines_refused"] == 0


def test_a_donation_badges_and_a_refused_token(platform: tuple[FakeChat, str]) -> None:
    chat, api = platform
    heard: list[ChatMessage] = []
    reader = PolledChat("chat123", TOKEN, api=api)
    reader.start(heard.append)
    try:
        assert reader.ready.wait(10)
        time.sleep(0.3)  # past the first page
        chat.say("Cleo", "a super chat", micros=2_500_000, isChatModerator=True)
        deadline = time.monotonic() + 10
        while not heard and time.monotonic() < deadline:
            time.sleep(0.05)
        assert heard and heard[0].donation == 2.5 and heard[0].badges == ("moderator",)
    finally:
        reader.stop()
    wrong = PolledChat("chat123", "not-the-token", api=api)
    wrong.start(heard.append)
    deadline = time.monotonic() + 10
    while wrong.ended is None and time.monotonic() < deadline:
        time.sleep(0.05)
    wrong.stop()
    assert wrong.ended == "authError"
    with pytest.raises(InvalidParam, match="--youtube"):
        PolledChat("bad id!", TOKEN, api=api)
