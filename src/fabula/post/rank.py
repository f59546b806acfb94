"""Scoring and choosing among candidates, with the reason for the choice kept.

A candidate that fails an error-severity check is never chosen while another passes. Among the
rest, the rank score favours fluency under the model (mean token log-probability) and penalises
loops (repeated 4-grams); the formula is recorded in each candidate's scores.
"""

from __future__ import annotations

from typing import Any

from fabula.quality.metrics import distinct_n, mean_logprob, perplexity, rep_n, words
from fabula.types import Candidate, Completion

RANK_FORMULA = "mean_logprob - 5 * repetition_4 (higher is better; -10 when no logprobs)"


def score(text: str, completion: Completion) -> dict[str, Any]:
    tokens = words(text)
    mlp = mean_logprob(completion.token_logprobs)
    rep = rep_n(tokens, 4)
    ppl = perplexity(completion.token_logprobs)
    return {
        "words": len(tokens),
        "tokens": completion.completion_tokens,
        "mean_logprob": round(mlp, 4) if mlp is not None else None,
        "perplexity": round(ppl, 3) if ppl is not None else None,
        "distinct_2": round(distinct_n(tokens, 2), 4),
        "repetition_4": round(rep, 4),
        "rank_score": round((mlp if mlp is not None else -10.0) - 5.0 * rep, 4),
    }


def choose(candidates: list[Candidate]) -> tuple[int, str]:
    """Index of the best candidate and a sentence saying why it was chosen."""
    if len(candidates) == 1:
        return 0, "only one candidate"
    passing = [i for i, c in enumerate(candidates) if c.passed]
    pool = passing or list(range(len(candidates)))
    best = max(pool, key=lambda i: candidates[i].scores["rank_score"])
    why = f"highest rank_score ({candidates[best].scores['rank_score']}) by {RANK_FORMULA}"
    if not passing:
        why += "; no candidate passed every check"
    elif len(passing) < len(candidates):
        why += f" among the {len(passing)} of {len(candidates)} that passed every check"
    return best, why
