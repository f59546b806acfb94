"""Reuters-21578 news samples (71 articles: oil and acquisitions, 1987) from Debian's `r-cran-tm`.

The package ships them as Reuters SGML-derived XML files under `tm/texts/{acq,crude}`; we read the
title, dateline, body, topics and places of each, and write one JSON line per article under
FABULA_HOME/data/reuters. They feed the news-digest form and its catalogue.
"""

from __future__ import annotations

import json
import os
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from fabula.data.debian import unpack
from fabula.errors import ConfigError

PACKAGE = "r-cran-tm"


def _article(path: Path) -> dict[str, Any] | None:
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        return None
    body = " ".join((root.findtext("TEXT/BODY") or "").split()).removesuffix(" REUTER").strip()
    title = (root.findtext("TEXT/TITLE") or "").strip().title()
    if not body or not title:
        return None
    return {
        "id": f"reuters:{root.get('NEWID')}",
        "title": title,
        "date": (root.findtext("DATE") or "").strip(),
        "topics": [d.text for d in root.findall("TOPICS/D") if d.text],
        "places": [d.text for d in root.findall("PLACES/D") if d.text],
        "text": body,
    }


def fetch_reuters(target: Path, force: bool = False) -> dict[str, Any]:
    manifest_path = target / "manifest.json"
    if manifest_path.is_file() and not force:
        return json.loads(manifest_path.read_text())  # type: ignore[no-any-return]
    with tempfile.TemporaryDirectory(prefix="fabula-reuters-") as scratch:
        work = Path(scratch)
        deb, root = unpack(PACKAGE, work)
        texts = next(root.rglob("tm/texts"), None)
        if texts is None:
            raise ConfigError(f"{deb} has no tm/texts folder")
        articles = [
            a for folder in ("acq", "crude") for p in sorted((texts / folder).glob("*.xml")) if (a := _article(p))
        ]
    target.mkdir(parents=True, exist_ok=True)
    path = target / "articles.jsonl"
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(a) + "\n" for a in articles), encoding="utf-8")
    os.replace(tmp, path)
    manifest = {"source": f"Debian package {deb}", "articles": len(articles), "file": path.name}
    manifest_path.write_text(json.dumps(manifest))
    return manifest


def articles(target: Path) -> list[dict[str, Any]]:
    fetch_reuters(target)
    lines = (target / "articles.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]
