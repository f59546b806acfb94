"""Every failure the CLI meets, as one line that names the file or setting and the fix.

`FabulaError`s already say what is wrong. The rest come from below fabula (the OS, the database
driver, the settings parser) and used to end in a Python traceback (25 of 49 fault cases: a
corrupt database, bad environment values, a read-only home, a full disk, ...). `explain` turns
each kind into a message and an exit code; anything it does not know is an internal error, told
in one line too, with `FABULA_DEBUG=1` to see the traceback.

Exit codes: 0 done; 1 an internal error (a bug: please report it); 2 an error you can fix (the
message says how); 3 the work was written but every candidate was rejected; 130 interrupted.
"""

from __future__ import annotations

import errno
import os

from fabula.files import is_full_disk

INTERNAL, FIXABLE = 1, 2


def explain(exc: BaseException) -> tuple[str, int]:
    """(the one line to print, the exit code) for an exception that is not a FabulaError."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        return _settings(exc), FIXABLE
    if is_full_disk(exc):
        where = getattr(exc, "filename", None) or _home()
        return f"the disk holding {where} is full; nothing was kept. Free some space, then try again", FIXABLE
    database = _database(exc)
    if database is not None:
        return database, FIXABLE
    if isinstance(exc, OSError):
        return _os_error(exc), FIXABLE
    if isinstance(exc, UnicodeDecodeError):
        return f"a file is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8", FIXABLE
    return (
        f"internal error: {type(exc).__name__}: {str(exc)[:300]} "
        "(a bug in fabula: rerun with FABULA_DEBUG=1 to see where, and please report it)",
        INTERNAL,
    )


def _settings(exc: BaseException) -> str:
    errors = exc.errors()  # type: ignore[attr-defined]
    first = errors[0] if errors else {}
    field = ".".join(str(p) for p in first.get("loc", ())) or "?"
    name = f"FABULA_{field.upper()}"
    value = os.environ.get(name, first.get("input"))
    why = str(first.get("msg", "bad value")).removeprefix("Value error, ")  # our validators' own words
    return f"the setting {name}={value!r} is not valid: {why}; fix or unset it"


def _home() -> str:
    return os.environ.get("FABULA_HOME", "FABULA_HOME")


def _database(exc: BaseException) -> str | None:
    from sqlalchemy.exc import DBAPIError, OperationalError

    if not isinstance(exc, DBAPIError):
        return None
    url = os.environ.get("FABULA_DATABASE_URL") or f"{_home()}/fabula.db"
    text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return (
            f"the database {url} is damaged ({text.strip()}); move it aside to start a new one, "
            "or restore it from a backup"
        )
    if "unable to open" in text or "readonly" in text:
        folder = _folder_of(url)
        if folder is not None and _read_only(folder):
            return f"the database {url} cannot be written: {folder} is read-only; set FABULA_HOME to a writable folder"
        return f"the database {url} cannot be opened ({text.strip()}); check that its folder exists and is writable"
    if isinstance(exc, OperationalError):
        return f"the database {url} cannot be used ({text.strip()[:200]}); check FABULA_DATABASE_URL and the server"
    return f"the database {url} refused a change ({text.strip()[:200]})"


def _folder_of(url: str) -> str | None:
    path = url.removeprefix("sqlite:///") if "://" in url else url
    if "://" in path:
        return None
    return os.path.dirname(path) or "."


def _read_only(folder: str) -> bool:
    """A read-only filesystem (which stops root too) or a folder this user may not write."""
    while folder and not os.path.exists(folder):
        folder = os.path.dirname(folder)
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY) or not os.access(folder, os.W_OK)
    except OSError:
        return False


def _os_error(exc: OSError) -> str:
    where = exc.filename or "a file"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        kind = "read-only" if exc.errno == errno.EROFS else exc.strerror
        return f"cannot write {where}: {kind}; make it writable, or set FABULA_HOME to a folder you can write"
    if exc.errno == errno.ENOENT:
        return f"no such file or folder: {where}"
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return f"{where} is in the way: {exc.strerror}; move it, or set FABULA_HOME to another folder"
    if exc.errno == errno.EISDIR:
        return f"{where} is a folder, not a file"
    return f"{where}: {exc.strerror or exc}"
