"""Sampling with the green-list watermark over a token stepper (llamacpp, hf).

Each step takes the model's top candidates, adds δ to the logits of those on the previous token's
green list (see `fabula.responsible.watermark`), then applies the usual repetition penalty,
temperature and top-p among them. Tokens outside the top NARROW are never sampled here; they hold
a negligible share of the mass at the temperatures used for writing. The first token has no
previous token in the text, so it is left unbiased, as the detector leaves it unscored. The
log-probabilities recorded are the model's own, before δ, so the fluency cost can be measured.
The green lists themselves are defined here (`green`), so the detector and the sampler share them.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence

import numpy as np

from fabula.cancel import check as check_cancelled
from fabula.decoding.constrained import NARROW, REPEAT_WINDOW, Stepper, Trace, _choose
from fabula.sampling import SamplingParams
from fabula.types import Completion

GAMMA = 0.25  # share of the vocabulary on each green list
DELTA = 2.0  # added to a green token's logit


def key_id(key: str) -> int:
    """The 64-bit number the hash is keyed with (from any secret string)."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "little")


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser over uint64 arrays (wrapping arithmetic)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def green(key: int, previous: Sequence[int] | np.ndarray, tokens: Sequence[int] | np.ndarray) -> np.ndarray:
    """For each (previous, token) pair: is the token on the previous token's green list?"""
    prev = np.asarray(previous, dtype=np.uint64)
    tok = np.asarray(tokens, dtype=np.uint64)
    with np.errstate(over="ignore"):
        seeded = _mix(_mix(prev ^ np.uint64(key)) ^ (tok * np.uint64(0xD6E8FEB86659FD93)))
    return seeded < np.uint64(int(GAMMA * (1 << 64)))


def sample_watermarked(
    stepper: Stepper,
    params: SamplingParams,
    seed: int | None,
    key: str,
    on_text: Callable[[str], None] | None = None,
    delta: float = DELTA,
) -> Completion:
    rng = random.Random(seed)
    keyed = key_id(key)
    trace = Trace(stepper)
    tokens, pieces = trace.tokens, trace.pieces
    finish = "length"
    while len(tokens) < params.max_tokens:
        check_cancelled()
        cands = [(t, text or "", lp) for t, text, lp in stepper.top(NARROW) if text or t in stepper.eos_ids]
        if tokens:
            marks = green(keyed, [tokens[-1]] * len(cands), [t for t, _, _ in cands])
            bias = [delta if mark else 0.0 for mark in marks]
            biased = [(t, text, lp + b, lp) for (t, text, lp), b in zip(cands, bias, strict=True)]
        else:
            biased = [(t, text, lp, lp) for t, text, lp in cands]
        token, text, _, own = _choose(biased, params, tokens[-REPEAT_WINDOW:], rng)
        if token in stepper.eos_ids:
            finish = "stop"
            break
        trace.take(token, text, float(own))
        if on_text:
            on_text(text)
        if any(stop in "".join(pieces[-8:]) for stop in params.stop):
            finish = "stop"
            break
    return trace.completion(seed, finish, params.stop)
