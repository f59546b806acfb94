"""Jane Austen's six novels (public-domain text) from Debian's `r-cran-janeaustenr` package.

The .deb is fetched with `apt-get download` (no root, no R), unpacked with `dpkg-deb -x`, and its
R lazy-load database read in Python. Each novel is stored as plain text, one line per line of the
original, under FABULA_HOME/data/austen, with a manifest naming the package version.
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
    manifest_path = target / "manifest.json"
    if manifest_path.is_file() and not force:
        return json.loads(manifest_path.read_text())  # type: ignore[no-any-return]
    with tempfile.TemporaryDirectory(prefix="fabula-austen-") as scratch:
        work = Path(scratch)
        deb, root = unpack(PACKAGE, work)
        data = next(root.rglob("janeaustenr/data"), None)
        if data is None or not (data / "Rdata.rdx").is_file():
            raise ConfigError(f"{deb} has no R data where expected")
        objects = read_lazyload(data / "Rdata.rdx", data / "Rdata.rdb")
        target.mkdir(parents=True, exist_ok=True)
        books = {}
        for name, title in NOVELS.items():
            lines = [line or "" for line in objects[name]]
            path = target / f"{name}.txt"
            tmp = path.with_suffix(".tmp")
            tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
            os.replace(tmp, path)
            books[name] = {
                "title": title,
                "file": path.name,
                "lines": len(lines),
                "words": sum(len(line.split()) for line in lines),
            }
        manifest = {
            "source": f"Debian package {deb}",
            "licence": "texts in the public domain",
            "books": books,
        }
        tmp = manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(manifest, indent=1))
        os.replace(tmp, manifest_path)
        return manifest
