"""Moby-Dick (public-domain text) from Debian's `r-cran-tokenizers`, read like the Austen novels.

A second, very different nineteenth-century voice: a reference corpus for originality checks and
the other user's history in the personalization benchmark.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from fabula.data.debian import unpack
from fabula.data.rdata import read_lazyload
from fabula.errors import ConfigError

PACKAGE = "r-cran-tokenizers"
GUTENBERG_END = "End of Project Gutenberg"


def fetch_mobydick(target: Path, force: bool = False) -> dict[str, Any]:
    """Install Moby-Dick as text under `target` (Gutenberg header and licence cut); idempotent."""
    manifest_path = target / "manifest.json"
    if manifest_path.is_file() and not force:
        return json.loads(manifest_path.read_text())  # type: ignore[no-any-return]
    with tempfile.TemporaryDirectory(prefix="fabula-melville-") as scratch:
        work = Path(scratch)
        deb, root = unpack(PACKAGE, work)
        data = next(root.rglob("tokenizers/data"), None)
        if data is None or not (data / "Rdata.rdx").is_file():
            raise ConfigError(f"{deb} has no R data where expected")
        text = str(read_lazyload(data / "Rdata.rdx", data / "Rdata.rdb")["mobydick"][0])
    start = text.find("CHAPTER 1. Loomings.")
    end = text.find(GUTENBERG_END)
    body = text[start if start >= 0 else 0 : end if end > 0 else len(text)].strip()
    target.mkdir(parents=True, exist_ok=True)
    path = target / "mobydick.txt"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(body + "\n", encoding="utf-8")
    os.replace(tmp, path)
    manifest = {
        "source": f"Debian package {deb}",
        "licence": "text in the public domain",
        "file": path.name,
        "words": len(body.split()),
    }
    manifest_path.write_text(json.dumps(manifest))
    return manifest
