"""Reference corpora for the originality check: what is indexed, and the stored index per source.

Sources are the installed corpora (Austen's novels, Moby-Dick, the Tang shi, Song shi and Song ci), folders a
user registers (`fabula originality corpus add`), and every corpus a training run has used
(registered by `fabula data prepare`). Each source is indexed on its own, a shard under
FABULA_HOME/originality/<name>/, so adding a corpus never rebuilds the others; a shard is rebuilt
when its source's fingerprint (file names, sizes, times) changes.

Text is compared as normalised tokens: NFKC, lower case, words of letters and digits (an
apostrophe inside a word is kept), and every Han character on its own. Punctuation, case and
spacing changes therefore never hide a copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fabula.errors import ConfigError, InvalidParam
from fabula.responsible.suffix_array import SEPARATOR, Match, build_suffix_array, longest_matches

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
TOKEN = re.compile(rf"[{HAN}]|[^\W_{HAN}]+(?:['\u2019][^\W_{HAN}]+)*")
INDEX_VERSION = 1
POETRY = ("tang", "song", "ci")
NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class Token:
    text: str  # normalised
    start: int  # character offsets in the original text
    end: int


def tokenize(text: str) -> list[Token]:
    """Normalised tokens with their places in the original text."""
    out = []
    for match in TOKEN.finditer(text):
        norm = unicodedata.normalize("NFKC", match.group()).lower().replace("\u2019", "'")
        out.append(Token(norm, match.start(), match.end()))
    return out


Documents = Callable[[], Iterator[tuple[str, str]]]  # (title, text) pairs


@dataclass(frozen=True)
class Source:
    name: str
    kind: str  # corpus | user | training
    files: tuple[Path, ...]
    documents: Documents


def _austen(folder: Path) -> Documents:
    def documents() -> Iterator[tuple[str, str]]:
        manifest = json.loads((folder / "manifest.json").read_text())
        for book in manifest["books"].values():
            text = (folder / book["file"]).read_text(encoding="utf-8")
            for number, block in enumerate(text.split("\n\n"), 1):
                if block.strip():
                    yield f"{book['title']}, paragraph {number}", block

    return documents


def _chapters(path: Path) -> Documents:
    def documents() -> Iterator[tuple[str, str]]:
        for number, block in enumerate(path.read_text(encoding="utf-8").split("\n\n"), 1):
            if block.strip():
                yield f"Moby-Dick, paragraph {number}", block

    return documents


def _poetry(path: Path) -> Documents:
    def documents() -> Iterator[tuple[str, str]]:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                yield f"{record.get('author', '')}《{record.get('title', '')}》", "\n".join(record["lines"])

    return documents


def _folder(folder: Path) -> Documents:
    def documents() -> Iterator[tuple[str, str]]:
        for path in sorted(folder.rglob("*.txt")):
            yield path.relative_to(folder).as_posix(), path.read_text(encoding="utf-8", errors="replace")

    return documents


def registry_path(home: Path) -> Path:
    return home / "originality" / "sources.json"


def registered(home: Path) -> dict[str, dict[str, str]]:
    path = registry_path(home)
    return json.loads(path.read_text()) if path.is_file() else {}  # type: ignore[no-any-return]


def register(home: Path, name: str, folder: Path, kind: str = "user") -> dict[str, str]:
    """Add a folder of .txt files as a reference source (idempotent)."""
    if not NAME.fullmatch(name) or name in ("austen", "mobydick", *POETRY):
        raise InvalidParam("name", name, "use lower-case letters, digits, . _ -, not a built-in corpus name")
    folder = folder.expanduser().resolve()
    if not folder.is_dir() or not any(folder.rglob("*.txt")):
        raise InvalidParam("folder", str(folder), "must be a folder holding .txt files")
    entries = registered(home)
    entries[name] = {"kind": kind, "path": str(folder)}
    _write_json(registry_path(home), entries)
    return entries[name]


def unregister(home: Path, name: str) -> None:
    entries = registered(home)
    if name not in entries:
        raise InvalidParam("name", name, f"not a registered corpus; registered: {', '.join(entries) or 'none'}")
    del entries[name]
    _write_json(registry_path(home), entries)


def register_training_corpus(home: Path, corpus: str) -> None:
    """Called when training data is prepared: a folder corpus becomes a reference source too."""
    if corpus in ("austen", *POETRY):
        return  # installed corpora are indexed anyway
    folder = Path(corpus).expanduser().resolve()
    name = "train-" + re.sub(r"[^a-z0-9_.-]", "-", folder.name.lower())[:50]
    register(home, name, folder, kind="training")


def sources(home: Path) -> tuple[list[Source], list[dict[str, str]]]:
    """The sources present, and the installed corpora that are missing with how to fetch them."""
    found: list[Source] = []
    missing: list[dict[str, str]] = []
    austen = home / "data" / "austen"
    if (austen / "manifest.json").is_file():
        files = tuple(sorted(austen.glob("*.txt")))
        found.append(Source("austen", "corpus", files, _austen(austen)))
    else:
        missing.append({"name": "austen", "fix": "fabula data fetch austen"})
    melville = home / "data" / "mobydick"
    if (melville / "manifest.json").is_file():
        found.append(Source("mobydick", "corpus", (melville / "mobydick.txt",), _chapters(melville / "mobydick.txt")))
    else:
        missing.append({"name": "mobydick", "fix": "fabula data fetch mobydick"})
    for name in POETRY:
        path = home / "data" / "poetry" / f"{name}.jsonl"
        if path.is_file():
            found.append(Source(name, "corpus", (path,), _poetry(path)))
        else:
            missing.append({"name": name, "fix": "fabula data fetch poetry"})
    for name, entry in sorted(registered(home).items()):
        folder = Path(entry["path"])
        if folder.is_dir():
            found.append(Source(name, entry["kind"], tuple(sorted(folder.rglob("*.txt"))), _folder(folder)))
        else:
            missing.append(
                {"name": name, "fix": f"the folder {folder} is gone: `fabula originality corpus remove {name}`"}
            )
    return found, missing


def fingerprint(source: Source) -> str:
    digest = hashlib.blake2b(digest_size=12)
    digest.update(f"v{INDEX_VERSION}".encode())
    for path in source.files:
        stat = path.stat()
        digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()


class Shard:
    """One source's stored index: tokens, suffix array, vocabulary and document table."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.meta: dict[str, Any] = json.loads((folder / "meta.json").read_text())
        self.tokens = np.load(folder / "tokens.npy", mmap_mode="r")
        self.sa = np.load(folder / "sa.npy", mmap_mode="r")
        self.starts = np.load(folder / "starts.npy")
        self._vocab: dict[str, int] | None = None
        self._words: list[str] | None = None
        self._titles: list[str] | None = None

    @property
    def name(self) -> str:
        return str(self.meta["name"])

    @property
    def words(self) -> list[str]:
        """Token id -> normalised word, read on first use."""
        if self._words is None:
            self._words = json.loads((self.folder / "vocab.json").read_text())
        return self._words

    @property
    def vocab(self) -> dict[str, int]:
        if self._vocab is None:
            self._vocab = {word: i for i, word in enumerate(self.words)}
        return self._vocab

    def ids(self, tokens: list[Token]) -> np.ndarray:
        """Query ids; a word the corpus never had gets -2, which matches nothing."""
        vocab = self.vocab
        return np.asarray([vocab.get(t.text, -2) for t in tokens], dtype=np.int32)

    def matches(self, tokens: list[Token]) -> list[Match]:
        return longest_matches(self.ids(tokens), self.tokens, self.sa)

    def locate(self, offset: int, length: int) -> dict[str, Any]:
        """The document a corpus offset falls in, and the matched words as the corpus has them."""
        if self._titles is None:
            self._titles = json.loads((self.folder / "titles.json").read_text())
        doc = int(np.searchsorted(self.starts, offset, side="right")) - 1
        words = [self.words[int(i)] for i in self.tokens[offset : offset + min(length, 80)]]
        return {"source": self.name, "document": self._titles[doc], "reference_text": " ".join(words)}


def build_shard(source: Source, root: Path) -> Shard:
    """Tokenise every document of a source and store its suffix array (atomically, as a folder)."""
    started = time.perf_counter()
    vocab: dict[str, int] = {}
    ids: list[int] = []
    starts: list[int] = []
    titles: list[str] = []
    seen: set[bytes] = set()
    for title, text in source.documents():
        words = [t.text for t in tokenize(text)]
        if not words:
            continue
        key = hashlib.blake2b(" ".join(words).encode(), digest_size=16).digest()
        if key in seen:  # an exact duplicate adds nothing but doubles the suffix sort's rounds
            continue
        seen.add(key)
        starts.append(len(ids))
        titles.append(title)
        ids.extend(vocab.setdefault(w, len(vocab)) for w in words)
        ids.append(SEPARATOR)
    tokens = np.asarray(ids, dtype=np.int32)
    sa = build_suffix_array(tokens)
    folder = root / source.name
    tmp = root / f".{source.name}.{os.getpid()}.tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    np.save(tmp / "tokens.npy", tokens)
    np.save(tmp / "sa.npy", sa)
    np.save(tmp / "starts.npy", np.asarray(starts, dtype=np.int64))
    (tmp / "vocab.json").write_text(json.dumps(list(vocab), ensure_ascii=False))
    (tmp / "titles.json").write_text(json.dumps(titles, ensure_ascii=False))
    meta = {
        "name": source.name,
        "kind": source.kind,
        "fingerprint": fingerprint(source),
        "documents": len(titles),
        "tokens": int(len(tokens) - len(titles)),
        "vocabulary": len(vocab),
        "build_s": round(time.perf_counter() - started, 2),
    }
    (tmp / "meta.json").write_text(json.dumps(meta))
    if folder.exists():
        old = root / f".{source.name}.{os.getpid()}.old"
        folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old)
    else:
        tmp.rename(folder)
    return Shard(folder)


def open_shards(home: Path, on_build: Callable[[str], None] | None = None) -> tuple[list[Shard], list[dict[str, str]]]:
    """Every source's shard, building the ones that are missing or stale."""
    root = home / "originality"
    found, missing = sources(home)
    shards = []
    for source in found:
        folder = root / source.name
        meta_path = folder / "meta.json"
        fresh = meta_path.is_file() and json.loads(meta_path.read_text()).get("fingerprint") == fingerprint(source)
        if not fresh:
            if on_build:
                on_build(source.name)
            try:
                shards.append(build_shard(source, root))
            except UnicodeDecodeError as exc:  # pragma: no cover - files are read with errors=replace
                raise ConfigError(f"corpus {source.name}: {exc}") from exc
        else:
            shards.append(Shard(folder))
    return shards, missing


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)
