"""Reuters-21578 news samples (71 articles: oil and acquisitions, 1987) from Debian's `r-cran-tm`.

The package ships them as Reuters SGML-derived XML files under `tm/texts/{acq,crude}`; we read the
title, dateline, body, topics and places of each, and write one JSON line per article under
FABULA_HOME/data/reuters. They feed the news-digest form and its catalogue.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from fabula.data.debian import cached_corpus
from fabula.errors import ConfigError
from fabula.files import write_atomic

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
    return cached_corpus(target, PACKAGE, _build, force)


def _build(deb: str, root: Path, target: Path) -> dict[str, Any]:
    texts = next(root.rglob("tm/texts"), None)
    if texts is None:
        raise ConfigError(f"{deb} has no tm/texts folder")
    found = [a for folder in ("acq", "crude") for p in sorted((texts / folder).glob("*.xml")) if (a := _article(p))]
    path = target / "articles.jsonl"
    write_atomic(path, "".join(json.dumps(a) + "\n" for a in found))
    return {"source": f"Debian package {deb}", "articles": len(found), "file": path.name}


def articles(target: Path) -> list[dict[str, Any]]:
    fetch_reuters(target)
    lines = (target / "articles.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]
