"""A platform's REST chat, polled: YouTube Live's `liveChatMessages` is the model.

Reading: `GET {api}/liveChat/messages?liveChatId=ID&part=snippet,authorDetails&pageToken=T`
answers `{"items": [...], "nextPageToken": ..., "pollingIntervalMillis": ...}`; the connector
waits the interval the platform asks for before the next page. The first page is what was said
before the stream went live: it is skipped, not answered. Each item becomes a `ChatMessage`:
`authorDetails.displayName`, `snippet.displayMessage`, a Super Chat's or Super Sticker's
`amountMicros` as the donation, and the author's flags as badges (`isChatModerator`: moderator,
`isChatSponsor`: subscriber, `isChatOwner`: broadcaster). The connector's own messages are
known by the ids the platform gave them and never read as a viewer's.

Writing: `POST {api}/liveChat/messages?part=snippet` with `{"snippet": {"liveChatId": ID, "type":
"textMessageEvent", "textMessageDetails": {"messageText": ...}}}`, 200 characters a message.

Failures: a connection error, a 5xx or a `rateLimitExceeded` is waited out with doubling back-off
(a line being sent stays in the outbox); `liveChatEnded`, `liveChatNotFound` or a refused token
end the connector with the platform's reason (`ended`), and `run_live` ends the stream. A line the
platform rejects as invalid is set aside, not retried forever. The token is sent as `Authorization:
Bearer ...` and never logged.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from fabula.errors import InvalidParam
from fabula.stream.connector import ChatConnector, SendRate
from fabula.stream.live import ChatMessage

LOG = logging.getLogger(__name__)

YOUTUBE_API = "https://www.googleapis.com/youtube/v3"
MAX_MESSAGE_CHARS = 200
ENDING = {"liveChatEnded", "liveChatNotFound", "liveChatDisabled", "forbidden", "authError"}
DONATIONS = {"superChatEvent": "superChatDetails", "superStickerEvent": "superStickerDetails"}


def _reason(response: httpx.Response) -> str:
    """The platform's error reason (`error.errors[0].reason`), else the HTTP status."""
    try:
        errors = response.json()["error"].get("errors") or [{}]
        return str(errors[0].get("reason") or response.status_code)
    except (ValueError, KeyError, TypeError, AttributeError):
        return str(response.status_code)


class PolledChat(ChatConnector):
    max_line = MAX_MESSAGE_CHARS
    measure = staticmethod(len)

    def __init__(
        self,
        live_chat_id: str,
        token: str | None,
        *,
        api: str = YOUTUBE_API,
        rate: SendRate | None = None,
        max_backoff_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(rate)
        if not live_chat_id or not live_chat_id.replace("-", "").replace("_", "").isalnum():
            raise InvalidParam("--youtube", live_chat_id, "the live chat's id (letters, digits, - and _)")
        if not api.startswith(("http://", "https://")):
            raise InvalidParam("--api", api, "the chat API's base URL, e.g. https://www.googleapis.com/youtube/v3")
        self.live_chat_id = live_chat_id
        self.api = api.rstrip("/")
        self.max_backoff_s = max_backoff_s
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(headers=headers, timeout=10.0, transport=transport)
        self._own: set[str] = set()  # ids of the messages this connector posted

    def _close(self) -> None:
        self._http.close()

    def _read_forever(self) -> None:
        token: str | None = None
        first = True
        backoff = 0.5
        while not self._stop.is_set():
            params = {"liveChatId": self.live_chat_id, "part": "snippet,authorDetails"}
            if token:
                params["pageToken"] = token
            try:
                response = self._http.get(f"{self.api}/liveChat/messages", params=params)
            except httpx.HTTPError as exc:
                self._wait_out(f"cannot reach the chat ({type(exc).__name__})", backoff)
                backoff = min(self.max_backoff_s, backoff * 2)
                continue
            if response.status_code != 200:
                reason = _reason(response)
                if reason in ENDING or response.status_code in (401, 404):
                    self._end(reason)
                    return
                self._wait_out(f"the chat answered {response.status_code} ({reason})", backoff)
                backoff = min(self.max_backoff_s, backoff * 2)
                continue
            if not self.ready.is_set():
                self.connections += 1
                self.ready.set()
                self._wake.set()
            backoff = 0.5
            page = response.json()
            token = page.get("nextPageToken") or token
            if not first:  # the first page is the chat before the stream: not answered
                for item in page.get("items", []):
                    message = self._message(item)
                    if message is not None:
                        self.on_message(message)
            first = False
            self._stop.wait(max(0.05, float(page.get("pollingIntervalMillis", 2000)) / 1000))

    def _wait_out(self, what: str, backoff: float) -> None:
        LOG.warning("chat %s: %s; again in %.1f s", self.live_chat_id, what, backoff)
        self.ready.clear()
        self._stop.wait(backoff)

    def _end(self, reason: str) -> None:
        LOG.warning("chat %s ended: %s", self.live_chat_id, reason)
        self.ended = reason
        self.ready.clear()

    def _message(self, item: dict[str, Any]) -> ChatMessage | None:
        if item.get("id") in self._own:
            return None
        snippet, author = item.get("snippet") or {}, item.get("authorDetails") or {}
        text = str(snippet.get("displayMessage") or "")
        if not text:
            return None
        details = snippet.get(DONATIONS.get(str(snippet.get("type")), ""), {}) or {}
        try:
            donation = int(details.get("amountMicros", 0)) / 1_000_000
        except (TypeError, ValueError):
            donation = 0.0
        flags = {"isChatModerator": "moderator", "isChatSponsor": "subscriber", "isChatOwner": "broadcaster"}
        badges = tuple(badge for flag, badge in flags.items() if author.get(flag))
        name = str(author.get("displayName") or "viewer")[:40]
        return ChatMessage(next(self._ids), name, text, donation, badges=badges)

    def _deliver(self, line: str) -> bool | str:
        body = {
            "snippet": {
                "liveChatId": self.live_chat_id,
                "type": "textMessageEvent",
                "textMessageDetails": {"messageText": line},
            }
        }
        try:
            response = self._http.post(f"{self.api}/liveChat/messages", params={"part": "snippet"}, json=body)
        except httpx.HTTPError:
            return False
        if response.status_code in (200, 201):
            posted = response.json().get("id") if response.content else None
            if posted:
                self._own.add(str(posted))
            return True
        reason = _reason(response)
        if response.status_code >= 500 or reason == "rateLimitExceeded" or response.status_code == 429:
            return False
        if reason in ENDING or response.status_code in (401, 404):
            self._end(reason)
            return False
        return reason
