"""Phrase bans by backtracking ("anti-slop"): when a banned phrase appears, rewind to the token
where it began, forbid that token at that position, and sample again.

Banning single tokens cannot stop a phrase that spans several ("a testament to", "shivers down
her spine"); banning every token of it would cripple ordinary words. Backtracking bans only the
choice that started the phrase, only where it started it. Needs an engine that can be stepped and
rewound (llamacpp, hf). Matching is case-insensitive; rewinds are bounded.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from fabula.cancel import check as check_cancelled
from fabula.decoding.constrained import NARROW, REPEAT_WINDOW, WIDE, Stepper, Trace, _choose
from fabula.sampling import SamplingParams
from fabula.types import Completion

MAX_REWINDS = 64


def sample_with_bans(
    stepper: Stepper,
    params: SamplingParams,
    seed: int | None,
    on_text: Callable[[str], None] | None = None,
) -> Completion:
    rng = random.Random(seed)
    phrases = [p.lower() for p in params.ban_phrases]
    trace = Trace(stepper)
    tokens, pieces = trace.tokens, trace.pieces
    banned_at: dict[int, set[int]] = {}
    rewinds = 0
    finish = "length"
    while len(tokens) < params.max_tokens:
        check_cancelled()
        forbidden = banned_at.get(len(tokens), set())

        allowed = _options(stepper.top(NARROW), forbidden, stepper.eos_ids) or _options(
            stepper.top(WIDE)[NARROW:], forbidden, stepper.eos_ids
        )
        if not allowed:
            finish = "dead_end"
            break
        token, text, logprob, is_end = _choose(allowed, params, tokens[-REPEAT_WINDOW:], rng)
        if is_end:
            finish = "stop"
            break
        trace.take(token, text, logprob)
        hit = _banned_start(pieces, phrases)
        if hit is not None and rewinds < MAX_REWINDS:
            rewinds += 1
            banned_at.setdefault(hit, set()).add(tokens[hit])
            trace.rewind(hit)
            continue
        if any(stop in "".join(pieces) for stop in params.stop):
            finish = "stop"
            break
    completion = trace.completion(seed, finish, params.stop)
    if on_text and completion.text:
        on_text(completion.text)  # at the end: a streamed phrase might still have been taken back
    return completion


def _options(
    cands: list[tuple[int, str | None, float]], forbidden: set[int], eos: set[int]
) -> list[tuple[int, str, float, bool]]:
    """Candidates in _choose's shape; the last field marks end of text."""
    return [(t, text or "", lp, t in eos) for t, text, lp in cands if t not in forbidden and (text or t in eos)]


def _banned_start(pieces: list[str], phrases: list[str]) -> int | None:
    """Index of the token where a banned phrase begins, if the newest token completed one."""
    text = "".join(pieces).lower()
    newest = len(pieces[-1])
    for phrase in phrases:
        at = text.rfind(phrase)
        if at >= 0 and at + len(phrase) > len(text) - newest:
            offset = 0
            for index, piece in enumerate(pieces):
                offset += len(piece)
                if offset > at:
                    return index
    return None
