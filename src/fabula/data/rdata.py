"""A reader for R's serialization format (XDR, versions 2 and 3), enough for R data packages.

R packages ship datasets as a lazy-load database: `Rdata.rdx` (a gzip-compressed serialized
index: name -> (offset, length) in the .rdb) and `Rdata.rdb` (per object: a 4-byte big-endian
size, then a zlib stream of one serialized object). We read character, integer, logical, double
and list vectors, pairlists, symbols and references: what text datasets are made of. Anything else
is an error naming the type, not a silent wrong answer.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path
from typing import Any

from fabula.errors import FabulaError

NILVALUE, REFSXP, SYMSXP, LISTSXP, CHARSXP = 254, 255, 1, 2, 9
LGLSXP, INTSXP, REALSXP, STRSXP, VECSXP = 10, 13, 14, 16, 19
EMPTYENV, BASEENV, GLOBALENV, UNBOUNDVALUE, MISSINGARG, BASENAMESPACE = 242, 241, 253, 252, 251, 247
NA_INTEGER = -(2**31)


class RDataError(FabulaError):
    """The bytes are not R serialization we can read; the message says where and what."""


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0
        self.refs: list[Any] = []

    def integer(self) -> int:
        value = struct.unpack_from(">i", self.data, self.pos)[0]
        self.pos += 4
        return int(value)

    def bytes(self, size: int) -> bytes:
        chunk = self.data[self.pos : self.pos + size]
        if len(chunk) != size:
            raise RDataError(f"truncated data at byte {self.pos}")
        self.pos += size
        return chunk

    def header(self) -> None:
        if self.bytes(2) != b"X\n":
            raise RDataError("not XDR R serialization (expected 'X\\n')")
        version = self.integer()
        self.integer(), self.integer()  # R version that wrote it, minimal reader version
        if version == 3:
            self.bytes(self.integer())  # native encoding name
        elif version != 2:
            raise RDataError(f"serialization version {version} is not supported (2 or 3)")

    def item(self) -> Any:
        flags = self.integer()
        kind, has_attr, has_tag = flags & 0xFF, bool(flags & (1 << 9)), bool(flags & (1 << 10))
        if kind == NILVALUE or kind in (EMPTYENV, BASEENV, GLOBALENV, UNBOUNDVALUE, MISSINGARG, BASENAMESPACE):
            return None
        if kind == REFSXP:
            index = flags >> 8 or self.integer()
            return self.refs[index - 1]
        if kind == SYMSXP:
            name = self.item()
            self.refs.append(name)
            return name
        if kind == CHARSXP:
            size = self.integer()
            return None if size == -1 else self.bytes(size).decode("utf-8", errors="replace")
        if kind == LISTSXP:  # a pairlist: attributes (ignored), tag, head, tail
            if has_attr:
                self.item()
            tag = self.item() if has_tag else None
            head = self.item()
            tail = self.item()
            return [(tag, head)] + (tail if isinstance(tail, list) else [])
        values = self._vector(kind)
        if has_attr:
            attributes = dict(self.item())
            names = attributes.get("names")
            if kind == VECSXP and names:
                return dict(zip(names, values, strict=False))
        return values

    def _vector(self, kind: int) -> list[Any]:
        size = self.integer()
        if kind == STRSXP:
            return [self.item() for _ in range(size)]
        if kind in (INTSXP, LGLSXP):
            return [None if v == NA_INTEGER else v for v in struct.unpack_from(f">{size}i", self.bytes(4 * size))]
        if kind == REALSXP:
            return list(struct.unpack_from(f">{size}d", self.bytes(8 * size)))
        if kind == VECSXP:
            return [self.item() for _ in range(size)]
        raise RDataError(f"R object type {kind} is not supported by this reader")


def unserialize(data: bytes) -> Any:
    reader = _Reader(data)
    reader.header()
    return reader.item()


def read_lazyload(rdx: Path, rdb: Path) -> dict[str, Any]:
    """Every object of an R lazy-load database, by name."""
    try:
        index = unserialize(gzip.decompress(rdx.read_bytes()))
    except (OSError, EOFError, zlib.error, struct.error) as exc:
        raise RDataError(f"{rdx} is not a readable R index: {exc}") from exc
    blob = rdb.read_bytes()
    out = {}
    for name, (offset, length) in index["variables"].items():
        chunk = blob[offset : offset + length]
        try:
            out[name] = unserialize(zlib.decompress(chunk[4:]))
        except (zlib.error, struct.error) as exc:
            raise RDataError(f"object {name!r} in {rdb} cannot be read: {exc}") from exc
    return out
