"""Moby-Dick (public-domain text) from Debian's `r-cran-tokenizers`, read like the Austen novels.

A second, very different nineteenth-century voice: a reference corpus for originality checks and
the other user's history in the personalization benchmark.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fabula.data.debian import cached_corpus, r_data
from fabula.files import write_atomic

PACKAGE = "r-cran-tokenizers"
GUTENBERG_END = "End of Project Gutenberg"


def fetch_mobydick(target: Path, force: bool = False) -> dict[str, Any]:
    """Install Moby-Dick as text under `target` (Gutenberg header and licence cut); idempotent."""
    return cached_corpus(target, PACKAGE, _build, force)


def _build(deb: str, root: Path, target: Path) -> dict[str, Any]:
    text = str(r_data(root, "tokenizers/data", deb)["mobydick"][0])
    start = text.find("CHAPTER 1. Loomings.")
    end = text.find(GUTENBERG_END)
    body = text[start if start >= 0 else 0 : end if end > 0 else len(text)].strip()
    path = target / "mobydick.txt"
    write_atomic(path, body + "\n")
    return {
        "source": f"Debian package {deb}",
        "licence": "text in the public domain",
        "file": path.name,
        "words": len(body.split()),
    }
