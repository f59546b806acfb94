"""R serialization reader on bytes built here, and the Austen corpus from its Debian package."""

from __future__ import annotations

import gzip
import json
import struct
import zlib
from pathlib import Path

import pytest

from fabula.data.rdata import RDataError, read_lazyload, unserialize


def _int(v: int) -> bytes:
    return struct.pack(">i", v)


def _header() -> bytes:
    return b"X\n" + _int(3) + _int(0x40300) + _int(0x30500) + _int(5) + b"UTF-8"


def _chars(text: str | None) -> bytes:
    if text is None:
        return _int(9) + _int(-1)
    raw = text.encode()
    return _int(9 | (1 << 12)) + _int(len(raw)) + raw  # CHARSXP, UTF-8 level


def _strings(values: list[str | None]) -> bytes:
    return _int(16) + _int(len(values)) + b"".join(_chars(v) for v in values)


def _named_list(items: dict[str, bytes]) -> bytes:
    """VECSXP with a names attribute (a pairlist with tag 'names')."""
    body = _int(19 | (1 << 9)) + _int(len(items)) + b"".join(items.values())
    names_attr = _int(2 | (1 << 10)) + _int(1) + _chars("names") + _strings(list(items)) + _int(254)
    return body + names_attr


def test_unserialize_strings_with_missing_values() -> None:
    assert unserialize(_header() + _strings(["EMMA", "", None, "Chapter 1"])) == ["EMMA", "", None, "Chapter 1"]


def test_refused_input_names_the_problem() -> None:
    with pytest.raises(RDataError, match="not XDR"):
        unserialize(b"A\n" + bytes(20))
    with pytest.raises(RDataError, match="type 3 is not supported"):
        unserialize(_header() + _int(3) + _int(0))  # a closure


def test_lazyload_database_round_trip(tmp_path: Path) -> None:
    objects = {"emma": _header() + _strings(["EMMA", "By Jane Austen"]), "persuasion": _header() + _strings(["P"])}
    blob, offsets = b"", {}
    for name, payload in objects.items():
        chunk = _int(len(payload)) + zlib.compress(payload)
        offsets[name] = (len(blob), len(chunk))
        blob += chunk
    index_vars = {name: _int(13) + _int(2) + _int(o) + _int(n) for name, (o, n) in offsets.items()}
    index = _header() + _named_list({"variables": _named_list(index_vars), "references": _int(254)})
    (tmp_path / "Rdata.rdx").write_bytes(gzip.compress(index))
    (tmp_path / "Rdata.rdb").write_bytes(blob)
    assert read_lazyload(tmp_path / "Rdata.rdx", tmp_path / "Rdata.rdb") == {
        "emma": ["EMMA", "By Jane Austen"],
        "persuasion": ["P"],
    }


@pytest.mark.slow
def test_fetch_austen_from_the_debian_package(fabula_home: Path) -> None:
    from click.testing import CliRunner

    from fabula.cli.main import cli

    result = CliRunner().invoke(cli, ["data", "fetch", "austen", "--json"], catch_exceptions=False)
    data = json.loads(result.stdout)
    assert result.exit_code == 0 and len(data["books"]) == 6
    emma = (Path(data["path"]) / "emma.txt").read_text()
    assert emma.startswith("EMMA") and "Emma Woodhouse, handsome, clever, and rich" in emma
    assert data["books"]["prideprejudice"]["words"] > 100_000
