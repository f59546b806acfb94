"""A green-list watermark (Kirchenbauer et al. 2023): generation favours a secret, context-keyed quarter
of the vocabulary, and detection counts how often a text lands in it.

For each previous token, a keyed hash splits the vocabulary: a token is "green" with probability
γ = 0.25, independently for every (previous token, token) pair. This is the paper's one-token
("LeftHash") seeding with a hash in place of a seeded permutation, so that greenness can be tested
for any pair without building a vocabulary-sized list. While sampling, green tokens get δ = 2.0
added to their logit. To detect, the text is re-tokenised and each distinct (previous, token) pair
counted once (a repeated phrase cannot inflate the score). The z-score of the green count against
γ is then compared with the threshold 4. Detection needs only the tokenizer and the key, never the
model.

Weakness, stated plainly: the mark lives in token pairs, so paraphrasing (or translating) the text
removes it in proportion to the pairs changed. Short texts carry too few pairs for a verdict.
"""

from __future__ import annotations

import hashlib
import math
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fabula.decoding.watermarked import DELTA, GAMMA, green, key_id

Z_THRESHOLD = 4.0
SCHEME = "kirchenbauer-2023-lefthash"
__all__ = ["DELTA", "GAMMA", "SCHEME", "Z_THRESHOLD", "detect", "green", "key_id", "score_ids"]


def key_fingerprint(key: str) -> str:
    """Safe to publish: says which key marked a work without revealing it."""
    return hashlib.sha256(b"fabula-watermark:" + key.encode("utf-8")).hexdigest()[:16]


def load_or_create_key(configured: str, home: Path) -> str:
    """The configured key (FABULA_WATERMARK_KEY), else one kept in FABULA_HOME/watermark.key,
    created on first use with owner-only permissions."""
    if configured:
        return configured
    path = home / "watermark.key"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    home.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key


def z_score(green_count: int, scored: int, gamma: float = GAMMA) -> float:
    if scored == 0:
        return 0.0
    return (green_count - gamma * scored) / math.sqrt(scored * gamma * (1 - gamma))


def score_ids(ids: Sequence[int], key: str) -> dict[str, Any]:
    """The detector's report for a token sequence: each distinct pair counted once."""
    pairs = list(dict.fromkeys(zip(ids[:-1], ids[1:], strict=True)))
    if not pairs:
        return {"z": 0.0, "watermarked": False, "green": 0, "scored": 0, "green_share": 0.0, "gamma": GAMMA}
    prev, tok = zip(*pairs, strict=True)
    count = int(green(key_id(key), prev, tok).sum())
    z = z_score(count, len(pairs))
    return {
        "z": round(z, 3),
        "watermarked": z >= Z_THRESHOLD,
        "green": count,
        "scored": len(pairs),
        "green_share": round(count / len(pairs), 4),
        "gamma": GAMMA,
        "threshold": Z_THRESHOLD,
        "scheme": SCHEME,
        "key": key_fingerprint(key),
    }


def detect(text: str, tokenizer: Any, key: str) -> dict[str, Any]:
    """Tokenise `text` as the model did and score it (`tokenizer` is a Hugging Face tokenizer)."""
    return score_ids(list(tokenizer.encode(text, add_special_tokens=False)), key)
