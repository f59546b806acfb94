"""Corpus preparation: clean, deduplicate, split, tokenize, and write token ids for training.

The result is a folder with `train.bin` and `val.bin` (token ids, uint16 or uint32, nanoGPT's
format: one long stream, documents separated by the tokenizer's end-of-text token),
`tokenizer.json`, and `meta.json` with counts. The split is by document and by a hash of its text,
so it does not depend on file order and a duplicate can never sit on both sides.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from fabula.errors import ConfigError
from fabula.gpt.tokenizers import BPETokenizer, CharTokenizer
from fabula.train.config import DataConfig

CORPORA = ("tang", "ci", "austen")  # by name; anything else is a folder of .txt files


def documents(config: DataConfig, home: Path) -> Iterator[str]:
    corpus = config.corpus
    if corpus in ("tang", "ci"):
        from fabula.data.poetry import clean_ci, clean_poem, fetch_poetry, poems, with_theme

        target = home / "data" / "poetry"
        fetch_poetry(target)
        for record in poems(target, corpus):
            line = clean_poem(record) if corpus == "tang" else clean_ci(record)
            if line:
                yield line if corpus == "tang" else with_theme(line)
    elif corpus == "austen":
        from fabula.data.austen import fetch_austen

        target = home / "data" / "austen"
        manifest = fetch_austen(target)
        for book in manifest["books"].values():
            yield from _paragraphs((target / book["file"]).read_text(encoding="utf-8"))
    else:
        folder = Path(corpus).expanduser()
        if not folder.is_dir():
            raise ConfigError(f"corpus {corpus!r}: use {', '.join(CORPORA)}, or a folder of .txt files")
        files = sorted(folder.rglob("*.txt"))
        if not files:
            raise ConfigError(f"corpus folder {folder} has no .txt files")
        for path in files:
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                raise ConfigError(f"{path} is not UTF-8 text ({exc.reason}); convert it or remove it") from exc
            yield from _paragraphs(text) if config.tokenizer == "bpe" else [_one_line(text)]


def _paragraphs(text: str) -> Iterator[str]:
    """Blank-line separated paragraphs, each joined onto one line."""
    for block in text.replace("\r\n", "\n").split("\n\n"):
        paragraph = " ".join(block.split())
        if paragraph:
            yield paragraph


def _one_line(text: str) -> str:
    return "".join(part.strip() for part in text.splitlines())


def is_val(document: str, fraction: float) -> bool:
    digest = hashlib.blake2b(document.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < fraction


def data_key(config: DataConfig, vocabulary: str = "") -> str:
    blob = json.dumps(config.__dict__, sort_keys=True) + vocabulary
    return hashlib.blake2b(blob.encode(), digest_size=6).hexdigest()


def prepare(
    config: DataConfig, home: Path, force: bool = False, tokenizer: CharTokenizer | BPETokenizer | None = None
) -> Path:
    """Prepare once per data configuration; later calls return the same folder.

    `tokenizer` is the vocabulary of a model the run starts from (`train.init_from`): the corpus
    is encoded with it, not with one trained on the corpus, so the model's token ids keep meaning
    what they meant. Its vocabulary is part of the folder's key."""
    if config.tokenizer not in ("char", "bpe"):
        raise ConfigError(f"data.tokenizer={config.tokenizer!r}: use char or bpe")
    if tokenizer is not None and tokenizer.kind != config.tokenizer:
        raise ConfigError(
            f"data.tokenizer={config.tokenizer!r}: the model the run starts from has a {tokenizer.kind} tokenizer;"
            f" set data.tokenizer={tokenizer.kind}"
        )
    if not 0.0 < config.val_fraction < 0.5:
        raise ConfigError(f"data.val_fraction={config.val_fraction}: must be in (0, 0.5)")
    name = Path(config.corpus).name if config.corpus not in CORPORA else config.corpus
    vocabulary = ""
    if tokenizer is not None:
        with tempfile.TemporaryDirectory(prefix="fabula-vocab-") as scratch:
            vocabulary = tokenizer.save(Path(scratch)).read_text(encoding="utf-8")
    out = home / "data" / "prepared" / f"{name}-{config.tokenizer}-{data_key(config, vocabulary)}"
    if (out / "meta.json").is_file() and not force:
        return out
    seen: set[str] = set()
    train_docs: list[str] = []
    val_docs: list[str] = []
    duplicates = 0
    for doc in documents(config, home):
        if doc in seen:
            duplicates += 1
            continue
        seen.add(doc)
        (val_docs if is_val(doc, config.val_fraction) else train_docs).append(doc)
    if not train_docs or not val_docs:
        raise ConfigError(
            f"corpus {config.corpus!r} gave {len(train_docs)} training and {len(val_docs)} validation documents;"
            " it needs more documents (or a larger data.val_fraction)"
        )
    from fabula.responsible.reference import register_training_corpus

    register_training_corpus(home, config.corpus)  # what a model learns from is checked against too
    if tokenizer is None:
        if config.tokenizer == "char":
            tokenizer = CharTokenizer.train(train_docs, min_count=config.min_count)
        else:
            tokenizer = BPETokenizer.train(train_docs, vocab_size=config.vocab_size)
    out.mkdir(parents=True, exist_ok=True)
    dtype = np.uint16 if tokenizer.vocab_size < 2**16 else np.uint32
    counts = {}
    for split, docs in (("train", train_docs), ("val", val_docs)):
        ids: list[int] = []
        for doc in docs:
            ids.extend(tokenizer.encode(doc))
            ids.append(tokenizer.eot_id)
        array = np.asarray(ids, dtype=dtype)
        tmp = out / f"{split}.bin.tmp"
        array.tofile(tmp)
        tmp.replace(out / f"{split}.bin")
        unknown = int((array == 0).sum()) if tokenizer.kind == "char" else 0  # id 0 is <unk>
        counts[split] = {"documents": len(docs), "tokens": int(array.size), "unknown": unknown}
    tokenizer.save(out)
    meta: dict[str, Any] = {
        "data": config.__dict__,
        "dtype": np.dtype(dtype).name,
        "vocab_size": tokenizer.vocab_size,
        "duplicates_removed": duplicates,
        **counts,
    }
    tmp = out / "meta.json.tmp"
    tmp.write_text(json.dumps(meta, ensure_ascii=False, indent=2))
    tmp.replace(out / "meta.json")
    return out


def load_split(folder: Path, split: str) -> np.ndarray:
    meta = json.loads((folder / "meta.json").read_text())
    return np.memmap(folder / f"{split}.bin", dtype=np.dtype(meta["dtype"]), mode="r")
