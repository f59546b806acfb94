"""IRC chat for the live streamer: the protocol Twitch chat speaks, over a plain socket.

The connector registers (PASS when a password is given, NICK, USER), asks for Twitch's IRCv3 tags
(`CAP REQ :twitch.tv/tags twitch.tv/commands`; a server that refuses them is fine), joins one
channel, and turns each channel PRIVMSG into a `ChatMessage`: the viewer's display name (the
`display-name` tag, else the nick), their badges (`badges`), and a donation from cheered bits
(`bits`, a hundred to the dollar). PING is answered with PONG at once, from the reading thread.

Replies go out through the connector's outbox (`stream/connector.py`): within the platform's rate
(Twitch: 20 messages in 30 seconds for a regular account), cut at word ends to fit 400 bytes, and
out of the outbox only once the socket took all of it. When the connection drops (the server
restarts, the network fails) the connector reconnects with doubling back-off, joins again and
sends what is still in the outbox, so no reply the loop handed over is lost.

Tag values are unescaped as IRCv3 says: `\\:` is ";", `\\s` a space, `\\\\` a backslash, `\\r` and
`\\n` line breaks.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
from dataclasses import dataclass

from fabula.errors import InvalidParam
from fabula.stream.connector import ChatConnector, SendRate
from fabula.stream.live import ChatMessage

LOG = logging.getLogger(__name__)

MAX_LINE_BYTES = 400  # of text per PRIVMSG: the whole line, prefix included, must stay under 512
TAG_ESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
NICK = re.compile(r"[A-Za-z\[\]\\`_^{|}][A-Za-z0-9\[\]\\`_^{|}-]{0,29}")
CHANNEL = re.compile(r"[#&][^\s,\x07]{1,49}")


@dataclass(frozen=True)
class IrcLine:
    tags: dict[str, str]
    prefix: str
    command: str
    params: tuple[str, ...]

    @property
    def nick(self) -> str:
        return self.prefix.split("!", 1)[0]


def _unescape(value: str) -> str:
    return re.sub(r"\\(.?)", lambda m: TAG_ESCAPES.get(m.group(1), m.group(1)), value)


def parse_line(line: str) -> IrcLine:
    """One line as the server sent it (without its CR LF): tags, prefix, command, parameters."""
    tags: dict[str, str] = {}
    rest = line
    if rest.startswith("@"):
        raw, _, rest = rest[1:].partition(" ")
        for item in raw.split(";"):
            key, _, value = item.partition("=")
            if key:
                tags[key] = _unescape(value)
    prefix = ""
    rest = rest.lstrip(" ")
    if rest.startswith(":"):
        prefix, _, rest = rest[1:].partition(" ")
    head, _, trailing = rest.partition(" :")
    words = head.split()
    command = words[0].upper() if words else ""
    params = (*words[1:], trailing) if " :" in rest else tuple(words[1:])
    return IrcLine(tags, prefix, command, params)


def parse_address(value: str) -> tuple[str, int]:
    """HOST:PORT as `--irc` takes it."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidParam("--irc", value, "HOST:PORT, e.g. irc.chat.twitch.tv:6667 or 127.0.0.1:6667")
    return host.strip("[]"), int(port)


class IrcChat(ChatConnector):
    """One channel of one IRC server. `start(on_message)` connects (and keeps reconnecting until
    `stop()`); `on_message(ChatMessage)` is called from the reading thread for each viewer's
    message; `ready` is set while the channel is joined."""

    max_line = MAX_LINE_BYTES

    def __init__(
        self,
        host: str,
        port: int,
        channel: str,
        nick: str,
        *,
        password: str | None = None,
        rate: SendRate | None = None,
        max_backoff_s: float = 30.0,
    ) -> None:
        super().__init__(rate)
        self.check_names(channel, nick)
        self.host, self.port, self.channel, self.nick = host, port, channel, nick
        self.password = password
        self.max_backoff_s = max_backoff_s
        self._sock: socket.socket | None = None
        self._write_lock = threading.Lock()

    @staticmethod
    def check_names(channel: str, nick: str) -> None:
        if not CHANNEL.fullmatch(channel):
            raise InvalidParam("--channel", channel, "an IRC channel name such as '#test' (quote the #)")
        if not NICK.fullmatch(nick):
            raise InvalidParam("--nick", nick, "a nickname of letters, digits and _-[]{}|^`, at most 30")

    def _close(self) -> None:
        sock = self._sock
        if sock is not None:
            try:
                self._write(sock, "QUIT :stream over")
            except OSError:
                pass
            sock.close()

    # ---- connection -----------------------------------------------------------------------------

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout=10)
        sock.settimeout(None)
        if self.password:
            self._write(sock, f"PASS {self.password}")
        self._write(sock, "CAP REQ :twitch.tv/tags twitch.tv/commands")
        self._write(sock, f"NICK {self.nick}")
        self._write(sock, f"USER {self.nick} 0 * :fabula streamer")
        return sock

    def _write(self, sock: socket.socket, line: str) -> None:
        with self._write_lock:
            sock.sendall(line.encode("utf-8") + b"\r\n")

    def _read_forever(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                sock = self._connect()
            except OSError as exc:
                LOG.warning("IRC %s:%d: cannot connect (%s); again in %.1f s", self.host, self.port, exc, backoff)
                self._stop.wait(backoff)
                backoff = min(self.max_backoff_s, backoff * 2)
                continue
            self._sock = sock
            self.connections += 1
            try:
                self._read(sock)
                backoff = 0.5  # it was up: the next drop starts the back-off again
            except OSError as exc:
                if not self._stop.is_set():
                    LOG.warning("IRC connection lost (%s); reconnecting", exc)
            finally:
                self.ready.clear()
                self._sock = None
                sock.close()
            if not self._stop.is_set():
                self._stop.wait(backoff)

    def _read(self, sock: socket.socket) -> None:
        buffer = b""
        while not self._stop.is_set():
            data = sock.recv(65536)
            if not data:
                raise ConnectionResetError("the server closed the connection")
            buffer += data
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                text = raw.rstrip(b"\r").decode("utf-8", "replace")
                if text:
                    self._handle(sock, parse_line(text))

    def _handle(self, sock: socket.socket, line: IrcLine) -> None:
        if line.command == "PING":
            self._write(sock, "PONG :" + (line.params[-1] if line.params else ""))
        elif line.command == "CAP" and len(line.params) >= 2 and line.params[1] in ("ACK", "NAK"):
            self._write(sock, "CAP END")
        elif line.command == "001":
            self._write(sock, f"JOIN {self.channel}")
        elif line.command == "433":  # nickname in use: take another and go on
            self.nick = (self.nick + "_")[:30]
            self._write(sock, f"NICK {self.nick}")
        elif line.command == "JOIN" and line.nick.lower() == self.nick.lower():
            LOG.info("IRC: joined %s as %s", self.channel, self.nick)
            self.ready.set()
            self._wake.set()
        elif line.command == "PRIVMSG" and len(line.params) == 2 and line.params[0].lower() == self.channel.lower():
            if line.nick.lower() != self.nick.lower():
                self.on_message(self._message(line))

    def _message(self, line: IrcLine) -> ChatMessage:
        name = line.tags.get("display-name") or line.nick
        text = line.params[1]
        if text.startswith("\x01ACTION ") and text.endswith("\x01"):  # /me waves
            text = f"{name} {text[8:-1]}"
        bits = line.tags.get("bits", "")
        donation = int(bits) / 100 if bits.isdigit() else 0.0
        badges = tuple(b.split("/", 1)[0] for b in line.tags.get("badges", "").split(",") if b)
        return ChatMessage(next(self._ids), name, text, donation, badges=badges)

    def _deliver(self, line: str) -> bool:
        sock = self._sock
        if sock is None:
            return False
        try:
            self._write(sock, f"PRIVMSG {self.channel} :{line}")
        except OSError:
            return False  # the reader reconnects; the line is sent again then
        return True
