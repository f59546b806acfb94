"""Jane Austen's six novels (public-domain text) from Debian's `r-cran-janeaustenr` package.

The .deb is fetched with `apt-get download` (no root, no R), unpacked with `dpkg-deb -x`, and its
R lazy-load database read in Python. Each novel is stored as plain text, one line per line of the
original, under FABULA_HOME/data/austen, with a manifest naming the package version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fabula.data.debian import cached_corpus, r_data
from fabula.files import write_atomic

PACKAGE = "r-cran-janeaustenr"
NOVELS = {
    "emma": "Emma",
    "mansfieldpark": "Mansfield Park",
    "northangerabbey": "Northanger Abbey",
    "persuasion": "Persuasion",
    "prideprejudice": "Pride and Prejudice",
    "sensesensibility": "Sense and Sensibility",
}


def fetch_austen(target: Path, force: bool = False) -> dict[str, Any]:
    """Install the six novels as text under `target`; return the manifest. Idempotent."""
    return cached_corpus(target, PACKAGE, _build, force)


def _build(deb: str, root: Path, target: Path) -> dict[str, Any]:
    objects = r_data(root, "janeaustenr/data", deb)
    books = {}
    for name, title in NOVELS.items():
        lines = [line or "" for line in objects[name]]
        path = target / f"{name}.txt"
        write_atomic(path, "\n".join(lines) + "\n")
        books[name] = {
            "title": title,
            "file": path.name,
            "lines": len(lines),
            "words": sum(len(line.split()) for line in lines),
        }
    return {"source": f"Debian package {deb}", "licence": "texts in the public domain", "books": books}
