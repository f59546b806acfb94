"""The edge of the server: what every HTTP request and WebSocket passes before any route sees it.

Pure ASGI middleware (streamed responses are never buffered). In order:

1. **Host.** A request whose `Host` is not one this server answers to is refused (400). Without
   it, a page on `attacker.example` whose name is rebound to 127.0.0.1 (DNS rebinding) reads the
   local server as if it were its own origin. Loopback names are always allowed; others come from
   `FABULA_API_ALLOWED_HOSTS`.
2. **Origin.** A state-changing request (POST, PUT, PATCH, DELETE) or a WebSocket upgrade that a
   browser sends from another origin is refused (403). Browsers attach `Origin` to every
   cross-origin POST, including `no-cors` fetches and plain HTML forms, so this is what stops a
   page elsewhere from saving works or starting jobs on a local-mode server (no key to steal, so
   no other defence applies). Clients that are not browsers send no `Origin` and pass.
3. **Body budget.** A body is counted while it streams in: a `Content-Length` over the limit is
   refused before a byte is read, and a chunked body (no length) is refused the moment it passes
   the limit, so memory never holds more than `MAX_BODY_BYTES` of one request.
4. **Headers.** Every response gets a strict Content-Security-Policy, no-sniff and no-referrer;
   every answer outside /static gets `Cache-Control: no-store` (keys, works and profiles are
   private: no browser or proxy cache may keep them) unless the route set its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from fastapi.responses import JSONResponse

from fabula.errors import TooLarge

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
# ReDoc styles itself with styled-components, which writes <style> elements: its page alone (the
# server's own spec, no user text) may apply inline styles; scripts stay 'self' everywhere
STYLED_PAGES = {
    "/redoc": CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'").replace(
        "img-src 'self'", "img-src 'self' data:"
    )
    + "; worker-src 'self' blob:"
}
MAX_BODY_BYTES = 4 * 1024 * 1024  # a 10 MB body is refused before it is parsed
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _host_name(netloc: str) -> str:
    """`example.org:8000` -> `example.org`; `[::1]:8000` -> `::1`."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc[1:].partition("]")[0]
    return netloc.rpartition(":")[0] if netloc.count(":") == 1 else netloc


def _error(status: int, message: str, param: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": None}}, status_code=status)


class Guard:
    HEADERS = [
        (b"content-security-policy", CSP.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
    ]

    def __init__(
        self,
        app: Any,
        allowed_hosts: Iterable[str] = (),
        allowed_origins: Iterable[str] = (),
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.app = app
        self.hosts = LOOPBACK_HOSTS | {h.strip().lower() for h in allowed_hosts if h.strip()}
        self.origins = {o.strip().rstrip("/").lower() for o in allowed_origins if o.strip()}
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 4403, "reason": bytes(refusal.body).decode()[:120]})
            else:
                await refusal(scope, receive, self._with_headers(send, scope.get("path", "")))
            return
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            await self._too_large(scope, receive, send)
            return
        sent_any = False
        over = [False]  # set once the body passed the budget: the connection is then closed

        async def tracked_send(message: Any) -> None:
            nonlocal sent_any
            if message["type"] == "http.response.start":
                sent_any = True
                if over[0]:  # or the server would go on reading the rest of the body
                    message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await self._with_headers(send, scope.get("path", ""))(message)

        try:
            await self.app(scope, self._counted(receive, over), tracked_send)
        except TooLarge:
            if not sent_any:
                await self._too_large(scope, receive, send)

    def _refusal(self, scope: Any, headers: dict[str, str]) -> JSONResponse | None:
        host = _host_name(headers.get("host", ""))
        if host not in self.hosts:
            return _error(
                400,
                f"Host {headers.get('host', '')!r} is not served here; add it to FABULA_API_ALLOWED_HOSTS "
                "if this server is meant to answer to that name",
                "Host",
            )
        changing = scope["type"] == "websocket" or scope.get("method", "GET") in STATE_CHANGING
        origin = headers.get("origin")
        if changing and origin is not None and not self._same_origin(origin, headers.get("host", "")):
            return _error(
                403,
                f"Origin {origin!r} may not change this server's data; pages of other sites are refused "
                "(add the origin to FABULA_API_ALLOWED_ORIGINS to allow it)",
                "Origin",
                "permission_error",
            )
        if changing and origin is None and headers.get("sec-fetch-site") == "cross-site":
            return _error(403, "a cross-site request may not change this server's data", "Origin", "permission_error")
        return None

    def _same_origin(self, origin: str, host: str) -> bool:
        origin = origin.strip().rstrip("/").lower()
        if origin in self.origins:
            return True
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and parts.netloc == host.strip().lower()

    def _counted(self, receive: Any, over: list[bool]) -> Any:
        budget = self.max_body_bytes
        seen = 0

        async def counted() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > budget:
                    over[0] = True
                    raise TooLarge(f"body over {budget} bytes")
            return message

        return counted

    async def _too_large(self, scope: Any, receive: Any, send: Any) -> None:
        response = _error(413, f"body over {self.max_body_bytes} bytes", "body")
        response.headers["connection"] = "close"  # the rest of the body is never read
        await response(scope, receive, self._with_headers(send))

    def _with_headers(self, send: Any, path: str = "") -> Any:
        cacheable = path.startswith("/static/")
        policy = STYLED_PAGES.get(path)
        fixed = self.HEADERS if policy is None else [(b"content-security-policy", policy.encode()), *self.HEADERS[1:]]

        async def wrapped(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), *fixed]
                if not cacheable and not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        return wrapped
