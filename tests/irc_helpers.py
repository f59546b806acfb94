"""A real IRC server and real chat users for the streamer's IRC tests and benchmark.

`IrcServer` runs Debian's ngIRCd in the foreground on a free port of 127.0.0.1, with a
configuration of its own, and can be killed and started again on the same port; a `Viewer` is a
client socket that joins the channel, says things and hears what is said there.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from fabula.stream.irc import parse_line

NGIRCD = shutil.which("ngircd") or ("/usr/sbin/ngircd" if Path("/usr/sbin/ngircd").is_file() else None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class IrcServer:
    """ngIRCd in the foreground on a free port, startable again on the same port."""

    def __init__(self, folder: Path) -> None:
        self.port = _free_port()
        self.config = folder / "ngircd.conf"
        uid = "ServerUID = 0\n" if os.geteuid() == 0 else ""
        self.config.write_text(
            "[Global]\nName = irc.fabula.test\nInfo = fabula tests\nListen = 127.0.0.1\n"
            f"Ports = {self.port}\nMotdPhrase = hello\nPidFile = {folder / 'ngircd.pid'}\n{uid}"
            "[Limits]\nMaxConnectionsIP = 0\nMaxNickLength = 30\n"
            "[Options]\nPAM = no\nIdent = no\nDNS = no\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert NGIRCD is not None, "ngIRCd is missing in CI: .ci/run installs it"
        self.process = subprocess.Popen(
            [NGIRCD, "-n", "-f", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("ngIRCd did not start")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


class Viewer:
    """A chat user on a real socket: joins the channel, says things, hears what is said there."""

    def __init__(self, port: int, nick: str, channel: str = "#test") -> None:
        self.nick, self.channel = nick, channel
        self.timed: list[tuple[float, str, str]] = []  # (monotonic time heard, speaker, text)
        self.joined: set[str] = set()
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(f"NICK {nick}\r\nUSER {nick} 0 * :viewer\r\nJOIN {channel}\r\n".encode())
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        buffer = b""
        try:
            while data := self.sock.recv(65536):
                buffer += data
                *lines, buffer = buffer.split(b"\r\n")
                for raw in lines:
                    line = parse_line(raw.decode("utf-8", "replace"))
                    if line.command == "PING":
                        self.sock.sendall(f"PONG :{line.params[-1]}\r\n".encode())
                    elif line.command == "PRIVMSG":
                        self.timed.append((time.monotonic(), line.nick, line.params[-1]))
                    elif line.command == "JOIN":
                        self.joined.add(line.nick)
        except OSError:
            pass

    @property
    def heard(self) -> list[tuple[str, str]]:
        """(speaker, text) of every channel message heard, in order."""
        return [(who, text) for _, who, text in self.timed]

    def say(self, text: str) -> None:
        self.sock.sendall(f"PRIVMSG {self.channel} :{text}\r\n".encode())

    def wait_for(self, condition: Callable[[], bool], seconds: float = 20.0) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        self.sock.close()
