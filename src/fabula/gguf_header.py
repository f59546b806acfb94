"""A GGUF file's header, read in one pass without the `gguf` package's reader.

`gguf.GGUFReader` builds numpy views of every metadata field and tensor, about 250,000 Python
calls for the embedded model: 3 s on a busy machine, on every engine load, for the three facts the
engine needs and the bounds check that keeps a damaged file from crashing llama.cpp. The layout
(GGUF v2/v3, little-endian) is simple enough to walk directly:

    magic "GGUF" | version u32 | tensor count u64 | metadata count u64
    metadata: key (u64 length + UTF-8) | value type u32 | value
    tensors:  name | n_dims u32 | dims u64 x n_dims | ggml type u32 | offset u64 (from the data start)
    data start: the end of the tensor table, rounded up to `general.alignment` (default 32)

Scalars and strings are kept; arrays are skipped by size (strings one length at a time) and kept
as their element count, which is all that is needed of them (the vocabulary size). A tensor's byte
size comes from its ggml type's block size and bytes per block (`gguf.constants`, a table only).
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
STRING, ARRAY = 8, 9


class HeaderError(ValueError):
    """The header cannot be read: the file is cut short or is not laid out as GGUF."""


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int  # from the start of the data section


@dataclass(frozen=True)
class Header:
    version: int
    metadata: dict[str, Any]  # scalars and strings as values; arrays as ("array", element count)
    tensors: tuple[Tensor, ...]
    data_start: int


class _Cursor:
    def __init__(self, buffer: Any) -> None:
        self.buffer, self.at = buffer, 0

    def take(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        if self.at + size > len(self.buffer):
            raise HeaderError(f"the header ends early, at byte {self.at:,}")
        value = struct.unpack_from(fmt, self.buffer, self.at)[0]
        self.at += size
        return value

    def string(self) -> str:
        length = self.take("<Q")
        if self.at + length > len(self.buffer):
            raise HeaderError(f"a string of {length:,} bytes runs past the end of the file")
        raw = bytes(self.buffer[self.at : self.at + length])
        self.at += length
        return raw.decode("utf-8", errors="replace")

    def skip_strings(self, count: int) -> None:
        for _ in range(count):
            length = self.take("<Q")  # (not `self.at += self.take(...)`: that reads `at` before take moves it)
            self.at += length
        if self.at > len(self.buffer):
            raise HeaderError("an array of strings runs past the end of the file")

    def value(self, kind: int) -> Any:
        if kind in SCALARS:
            return self.take(SCALARS[kind])
        if kind == STRING:
            return self.string()
        if kind == ARRAY:
            element, count = self.take("<I"), self.take("<Q")
            if element == STRING:
                self.skip_strings(count)
            elif element in SCALARS:
                self.at += struct.calcsize(SCALARS[element]) * count
                if self.at > len(self.buffer):
                    raise HeaderError("an array runs past the end of the file")
            else:  # nested arrays: walk them
                for _ in range(count):
                    self.value(element)
            return ("array", count)
        raise HeaderError(f"unknown metadata value type {kind}")


def read_header(path: Path) -> Header:
    """Parse the header of the GGUF at `path` (HeaderError when it cannot be read)."""
    with path.open("rb") as handle:
        if path.stat().st_size == 0:
            raise HeaderError("the file is empty")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buffer:
            cursor = _Cursor(buffer)
            if bytes(buffer[:4]) != b"GGUF":
                raise HeaderError("it does not start with the GGUF magic")
            cursor.at = 4
            version = cursor.take("<I")
            tensor_count, kv_count = cursor.take("<Q"), cursor.take("<Q")
            if tensor_count > 1 << 20 or kv_count > 1 << 20:
                raise HeaderError(f"it claims {tensor_count:,} tensors and {kv_count:,} metadata fields")
            metadata: dict[str, Any] = {}
            for _ in range(kv_count):
                key = cursor.string()
                metadata[key] = cursor.value(cursor.take("<I"))
            tensors = []
            for _ in range(tensor_count):
                name = cursor.string()
                dims = cursor.take("<I")
                if dims > 8:
                    raise HeaderError(f"tensor {name} claims {dims} dimensions")
                shape = tuple(cursor.take("<Q") for _ in range(dims))
                tensors.append(Tensor(name, shape, cursor.take("<I"), cursor.take("<Q")))
            alignment = int(metadata.get("general.alignment", 32)) or 32
            data_start = -(-cursor.at // alignment) * alignment
    return Header(version, metadata, tuple(tensors), data_start)


def tensor_bytes(tensor: Tensor) -> int:
    """Bytes the tensor's data takes, from its ggml type's block layout."""
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    block, per_block = GGML_QUANT_SIZES[GGMLQuantizationType(tensor.ggml_type)]
    elements = 1
    for d in tensor.shape:
        elements *= d
    return elements // block * per_block
