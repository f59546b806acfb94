"""The CLI's fault matrix: every fault a careless user or a broken machine produces (bad
environment values, a damaged database, damaged plan and model files, a read-only home, a full
disk, malformed input files) ends in one line that names the file or setting, a documented exit
code (2: fixable; never 1, an internal error), and no traceback. 25 of these 49+ cases used to
end in a raw Python traceback."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from fabula.backends import close_all
from fabula.cli.main import cli
from fabula.models import default_model_path
from fabula.settings import get_settings
from fabula.store.db import dispose_engines

Setup = Callable[[Path], tuple[list[str], dict[str, str]]]
WRITE = ["write", "story", "a lighthouse", "--max-tokens", "20"]


def env_case(name: str, value: str, args: list[str] | None = None) -> Setup:
    return lambda home: (args or ["works", "list"], {name: value})


def db_case(content: bytes | None, args: list[str] | None = None, directory: bool = False) -> Setup:
    def setup(home: Path) -> tuple[list[str], dict[str, str]]:
        home.mkdir(parents=True, exist_ok=True)
        db = home / "fabula.db"
        if directory:
            db.mkdir()
        else:
            db.write_bytes(content or b"")
        return args or ["works", "list"], {"FABULA_ENGINE": "fake"}

    return setup


def truncated_db(home: Path) -> tuple[list[str], dict[str, str]]:
    from fabula.store.db import open_engine

    open_engine(f"sqlite:///{home / 'fabula.db'}")
    dispose_engines()
    for extra in home.glob("fabula.db-*"):
        extra.unlink()
    data = (home / "fabula.db").read_bytes()
    (home / "fabula.db").write_bytes(data[:1500])
    return ["works", "list"], {}


def plan_case(content: bytes, args: list[str] | None = None) -> Setup:
    def setup(home: Path) -> tuple[list[str], dict[str, str]]:
        (home / "plans").mkdir(parents=True)
        (home / "plans" / "abc123.json").write_bytes(content)
        return args or ["plan", "show", "abc123"], {}

    return setup


def gguf_case(keep: int | None = None, header: bytes | None = None, name: str = "m.gguf") -> Setup:
    def setup(home: Path) -> tuple[list[str], dict[str, str]]:
        home.mkdir(parents=True, exist_ok=True)
        source = default_model_path().read_bytes()
        data = bytearray(source[:keep] if keep is not None else source[:65536])
        if header is not None:
            data[: len(header)] = header
        (home / name).write_bytes(bytes(data))
        return [*WRITE, "--model", str(home / name)], {"FABULA_ENGINE": "llamacpp"}

    return setup


def model_dir_case(home: Path) -> tuple[list[str], dict[str, str]]:
    (home / "dir.gguf").mkdir(parents=True)
    return [*WRITE, "--model", str(home / "dir.gguf")], {"FABULA_ENGINE": "llamacpp"}


def gpt_case(damage: str) -> Setup:
    def setup(home: Path) -> tuple[list[str], dict[str, str]]:
        folder = home / "models" / "tiny"
        folder.mkdir(parents=True)
        if damage != "no config":
            config = b"{not json" if damage == "bad config" else b'{"data": {}, "model": {}, "train": {}}'
            (folder / "config.json").write_bytes(config)
        (folder / "model.safetensors").write_bytes(
            b"\x08\x00\x00\x00\x00\x00\x00\x00{}" if damage != "cut" else b"\x01"
        )
        return [*WRITE, "--engine", "gpt", "--model", str(folder)], {}

    return setup


def file_case(name: str, content: bytes, args: Callable[[Path], list[str]]) -> Setup:
    def setup(home: Path) -> tuple[list[str], dict[str, str]]:
        home.mkdir(parents=True, exist_ok=True)
        path = home.parent / name
        path.write_bytes(content)
        return args(path), {"FABULA_ENGINE": "fake"}

    return setup


def _mounted(where: Path, options: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    return (
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True).returncode
        == 0
    )


def disk_case(options: str, args: list[str], fill: bool = False) -> Setup:
    def setup(home: Path) -> tuple[list[str], dict[str, str]]:
        if not _mounted(home, options):
            pytest.skip("a read-only or full filesystem needs root (mount -t tmpfs)")
        MOUNTS.append(home)
        if fill:
            with (home / "filler").open("wb") as handle:
                try:
                    while True:
                        handle.write(b"\0" * 65536)
                except OSError:
                    pass
        return args, {"FABULA_ENGINE": "fake"}

    return setup


MOUNTS: list[Path] = []

CASES: dict[str, tuple[Setup, str]] = {
    # bad environment values: the setting is named
    "threads not a number": (env_case("FABULA_THREADS", "abc"), "FABULA_THREADS"),
    "threads zero": (env_case("FABULA_THREADS", "0"), "FABULA_THREADS"),
    "context negative": (env_case("FABULA_N_CTX", "-5"), "FABULA_N_CTX"),
    "dtype unknown": (env_case("FABULA_HF_DTYPE", "int3"), "FABULA_HF_DTYPE"),
    "dialect unknown": (env_case("FABULA_OPENAI_DIALECT", "foo"), "FABULA_OPENAI_DIALECT"),
    "originality block": (env_case("FABULA_ORIGINALITY_BLOCK", "maybe"), "FABULA_ORIGINALITY_BLOCK"),
    "cache prompt not a bool": (env_case("FABULA_LLAMACPP_CACHE_PROMPT", "perhaps"), "FABULA_LLAMACPP_CACHE_PROMPT"),
    "timeout negative": (env_case("FABULA_OPENAI_TIMEOUT_S", "-1"), "FABULA_OPENAI_TIMEOUT_S"),
    "queue zero": (env_case("FABULA_API_MAX_QUEUE", "0"), "FABULA_API_MAX_QUEUE"),
    "session hours": (env_case("FABULA_API_SESSION_HOURS", "abc"), "FABULA_API_SESSION_HOURS"),
    "job workers": (env_case("FABULA_API_JOB_WORKERS", "-2"), "FABULA_API_JOB_WORKERS"),
    "database url nonsense": (env_case("FABULA_DATABASE_URL", "notaurl"), "notaurl"),
    "database unreachable": (
        env_case("FABULA_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/x"),
        "127.0.0.1:1",
    ),
    "home under a file": (env_case("FABULA_HOME", "/dev/null/fabula"), "/dev/null"),
    "home empty": (env_case("FABULA_HOME", ""), "FABULA_HOME"),
    "engine unknown": (env_case("FABULA_ENGINE", "nonsense", WRITE), "nonsense"),
    "model missing": (env_case("FABULA_MODEL", "/nonexistent/m.gguf", WRITE), "/nonexistent/m.gguf"),
    "safety level unknown": (env_case("FABULA_SAFETY", "hate=extreme", [*WRITE, "--engine", "fake"]), "extreme"),
    "safety malformed": (env_case("FABULA_SAFETY", "nonsense", [*WRITE, "--engine", "fake"]), "nonsense"),
    # the database
    "database random bytes": (db_case(os.urandom(8192)), "fabula.db"),
    "database truncated": (truncated_db, "fabula.db"),
    "database is a folder": (db_case(None, directory=True), "fabula.db"),
    "database damaged on write": (
        db_case(b"SQLite format 3\0" + os.urandom(4000), [*WRITE, "--engine", "fake"]),
        "fabula.db",
    ),
    "database damaged on user add": (db_case(os.urandom(4096), ["user", "add", "ana"]), "fabula.db"),
    # plan files
    "plan not json": (plan_case(b"{not json"), "abc123.json"),
    "plan wrong shape": (plan_case(b"{}"), "abc123.json"),
    "plan empty": (plan_case(b""), "abc123.json"),
    "plan binary": (plan_case(os.urandom(300), ["plan", "list"]), "abc123.json"),
    "plan unknown": (plan_case(b"{}", ["plan", "show", "zzz999"]), "zzz999"),
    # model files
    "gguf empty": (gguf_case(keep=0), "m.gguf"),
    "gguf random": (gguf_case(header=os.urandom(64)), "m.gguf"),
    "gguf truncated header": (gguf_case(keep=4096), "m.gguf"),
    "gguf truncated weights": (gguf_case(keep=60_000_000), "m.gguf"),
    "gguf future version": (gguf_case(header=b"GGUF\x09\x00\x00\x00"), "m.gguf"),
    "gguf is a folder": (model_dir_case, "dir.gguf"),
    "model not gguf": (gguf_case(name="m.bin"), "m.bin"),
    "gpt without config": (gpt_case("no config"), "tiny"),
    "gpt bad config": (gpt_case("bad config"), "config.json"),
    "gpt weights cut": (gpt_case("cut"), "model.safetensors"),
    # input files
    "check a missing file": (file_case("x.txt", b"", lambda p: ["check", "poem", str(p) + ".missing"]), "missing"),
    "persona png damaged": (
        file_case("card.png", b"\x89PNG\r\n\x1a\n" + os.urandom(64), lambda p: ["persona", "import", str(p)]),
        "card.png",
    ),
    "persona yaml broken": (
        file_case("p.yaml", b"name: [unclosed\n", lambda p: ["persona", "import", str(p)]),
        "p.yaml",
    ),
    "persona not utf-8": (file_case("p.yaml", b"name: \xff\xfe\n", lambda p: ["persona", "import", str(p)]), "p.yaml"),
    "batch yaml broken": (file_case("job.yaml", b"items: [\n", lambda p: ["batch", "run", str(p)]), "job.yaml"),
    "catalog jsonl broken": (
        file_case("items.jsonl", b'{"id": 1\n', lambda p: ["catalog", "import", str(p)]),
        "items.jsonl",
    ),
    "chat log broken": (
        file_case("chat.json", b"[{", lambda p: ["stream", "simulate", "--persona", str(p), "--chat", str(p)]),
        "chat.json",
    ),
    "config toml broken": (
        file_case("c.toml", b"[model\n", lambda p: ["train", "pretrain", "--config", str(p)]),
        "c.toml",
    ),
    "export into a file": (
        file_case("blocker", b"x", lambda p: ["works", "export", "abcdef123", "-o", str(p / "out.md")]),
        "abcdef123",
    ),
    "form input malformed": (env_case("FABULA_ENGINE", "fake", [*WRITE, "--set", "novalue"]), "novalue"),
    "work unknown": (env_case("FABULA_ENGINE", "fake", ["works", "show", "abcdef999"]), "abcdef999"),
    # a read-only home and a full disk
    "home read-only, write": (disk_case("ro,size=1m", WRITE), "read-only"),
    "home read-only, list": (disk_case("ro,size=1m", ["works", "list"]), "read-only"),
    "home read-only, user add": (disk_case("ro,size=1m", ["user", "add", "ana"]), "read-only"),
    "disk full, write": (disk_case("size=1m", WRITE, fill=True), "full"),
    "disk full, user add": (disk_case("size=1m", ["user", "add", "ana"], fill=True), "full"),
}


@pytest.fixture(autouse=True)
def _unmount() -> Iterator[None]:
    yield
    dispose_engines()
    close_all()
    while MOUNTS:
        subprocess.run(["umount", "-l", str(MOUNTS.pop())], check=False)


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_every_fault_is_one_clear_line_and_never_a_traceback(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup, named = CASES[case]
    home = tmp_path / "home"
    monkeypatch.setenv("FABULA_HOME", str(home))
    args, env = setup(home)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    result = CliRunner().invoke(cli, args)
    get_settings.cache_clear()
    assert not isinstance(result.exception, BaseException) or isinstance(result.exception, SystemExit), (
        f"{case}: {type(result.exception).__name__}: {result.exception}"
    )
    assert "Traceback" not in result.output
    assert result.exit_code == 2, (case, result.exit_code, result.output)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    problem = [line for line in lines if line.lower().startswith("error") or "Error:" in line]
    assert problem, (case, result.output)
    assert named in result.stderr, (case, named, result.stderr)


def test_the_fault_matrix_covers_the_49_cases_reported() -> None:
    assert len(CASES) >= 49


def test_an_internal_error_is_one_line_and_debug_shows_the_traceback() -> None:
    from fabula.cli.faults import explain

    message, code = explain(ZeroDivisionError("division by zero"))
    assert code == 1 and "internal error: ZeroDivisionError" in message and "FABULA_DEBUG=1" in message
