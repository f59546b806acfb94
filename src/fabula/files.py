"""Files written whole or not at all, and a full disk told apart from other failures.

Every file fabula keeps (a work's Markdown copy, a plan, an export, a manifest) is written through
`replaced(path)`: the content goes to a temporary file beside `path`, is flushed to disk, and is
renamed over `path` only when complete. Whatever goes wrong in between, the temporary file is
removed, so a crash or a full disk never leaves half a file or a stray `.tmp` (one was found after
a full-disk run). A full disk (ENOSPC, or a quota: EDQUOT) becomes `OutOfSpace`, which the API
answers with 507 and the CLI with a one-line error naming the folder.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from fabula.errors import OutOfSpace

LOG = logging.getLogger(__name__)
FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_full_disk(exc: BaseException) -> bool:
    """ENOSPC/EDQUOT from the OS, or SQLite's "database or disk is full" (SQLITE_FULL)."""
    if isinstance(exc, OSError) and exc.errno in FULL:
        return True
    text = str(getattr(exc, "orig", None) or exc).lower()
    return "database or disk is full" in text or "no space left on device" in text


def out_of_space(where: Path | str) -> OutOfSpace:
    return OutOfSpace(f"the disk holding {where} is full; nothing was kept. Free some space, then try again")


@contextmanager
def replaced(path: Path) -> Iterator[Path]:
    """A temporary path to write `path`'s new content to; renamed over `path` on success."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        LOG.debug("wrote %s", path)
    except BaseException as exc:
        with suppress(OSError):  # (no folder to hold it: nothing to remove)
            tmp.unlink(missing_ok=True)
        if is_full_disk(exc):
            raise out_of_space(path.parent) from exc
        raise


def write_atomic(path: Path, content: str | bytes) -> None:
    """Write `content` to `path` whole or not at all (see above)."""
    with replaced(path) as tmp:
        if isinstance(content, bytes):
            tmp.write_bytes(content)
        else:
            tmp.write_text(content, encoding="utf-8")
