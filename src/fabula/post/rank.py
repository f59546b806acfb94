"""Scoring and choosing among candidates, with the reason for the choice kept.

A candidate that fails an error-severity check is never chosen while another passes. Among the
rest, the rank score is a weighted sum of terms, each on a scale where higher is better:

  likelihood   mean token log-probability under the model (length-normalised log-likelihood);
               -10 when the engine gave no log-probabilities
  repetition   minus the share of repeated 4-grams (loops)
  compliance   share of the form's checks passed (warnings included), 0..1
  distance     how unlike the other candidates it is: 1 - mean bigram Jaccard similarity, 0..1

The default weights (likelihood 1, repetition 5) reward fluent text without loops. `--rank`
changes them, e.g. `--rank likelihood=1,compliance=2,distance=1`; the formula used is recorded in
the work's provenance and every term is kept in each candidate's scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fabula.errors import InvalidParam
from fabula.quality.metrics import distinct_n, mean_logprob, perplexity, rep_n, words
from fabula.types import Candidate, Completion

TERMS = ("likelihood", "repetition", "compliance", "distance")


@dataclass(frozen=True)
class Ranker:
    weights: Mapping[str, float] = field(default_factory=lambda: {"likelihood": 1.0, "repetition": 5.0})

    @classmethod
    def parse(cls, spec: str | None) -> Ranker:
        """`likelihood=1,compliance=2` -> weights; an unknown term or a bad number is named."""
        if not spec:
            return cls()
        weights: dict[str, float] = {}
        for part in spec.split(","):
            name, sep, raw = part.strip().partition("=")
            if name not in TERMS or not sep:
                raise InvalidParam("rank", spec, f"write term=weight with terms {', '.join(TERMS)}")
            try:
                weights[name] = float(raw)
            except ValueError:
                raise InvalidParam("rank", spec, f"the weight of {name} must be a number, not {raw!r}") from None
        return cls(weights)

    @property
    def formula(self) -> str:
        parts = [f"{w:g} * {name}" for name, w in self.weights.items()]
        return " + ".join(parts) + " (higher is better; each term is kept in the candidate's scores)"

    def rank_score(self, terms: Mapping[str, float]) -> float:
        return round(sum(w * terms[name] for name, w in self.weights.items()), 4)


def units(text: str) -> list[str]:
    """Words, or characters for text without spaces (Chinese)."""
    found = words(text)
    if len(found) <= 2 and len(text.strip()) > 12:
        return [ch for ch in text if not ch.isspace()]
    return found


def score(text: str, completion: Completion) -> dict[str, Any]:
    tokens = units(text)
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
    }


def _bigrams(text: str) -> set[tuple[str, str]]:
    tokens = units(text)
    return set(zip(tokens, tokens[1:], strict=False))


def rank_terms(candidates: list[Candidate]) -> list[dict[str, float]]:
    """Every term for every candidate (distance needs all of them at once)."""
    grams = [_bigrams(c.text) for c in candidates]
    out = []
    for i, c in enumerate(candidates):
        others = [g for j, g in enumerate(grams) if j != i]
        if others:
            sims = [len(grams[i] & g) / len(grams[i] | g) if grams[i] | g else 1.0 for g in others]
            distance = 1.0 - sum(sims) / len(sims)
        else:
            distance = 0.0
        checks = c.verdicts
        mlp = c.scores.get("mean_logprob")
        out.append(
            {
                "likelihood": mlp if mlp is not None else -10.0,
                "repetition": -float(c.scores.get("repetition_4", 0.0)),
                "compliance": sum(v["passed"] for v in checks) / len(checks) if checks else 1.0,
                "distance": round(distance, 4),
            }
        )
    return out


def choose(candidates: list[Candidate], ranker: Ranker | None = None) -> tuple[int, str, list[dict[str, Any]]]:
    """Index of the best candidate, a sentence saying why, and each candidate's scores with its
    rank terms and rank_score added."""
    ranker = ranker or Ranker()
    terms = rank_terms(candidates)
    scores = [
        {**c.scores, **{f"rank_{k}": v for k, v in t.items()}, "rank_score": ranker.rank_score(t)}
        for c, t in zip(candidates, terms, strict=True)
    ]
    if len(candidates) == 1:
        return 0, "only one candidate", scores
    passing = [i for i, c in enumerate(candidates) if c.passed]
    pool = passing or list(range(len(candidates)))
    best = max(pool, key=lambda i: scores[i]["rank_score"])
    runner_up = max((i for i in pool if i != best), key=lambda i: scores[i]["rank_score"], default=None)
    why = f"highest rank_score ({scores[best]['rank_score']}) by {ranker.formula}"
    if runner_up is not None:
        diffs = {k: round(terms[best][k] - terms[runner_up][k], 4) for k in ranker.weights}
        decisive = max(diffs, key=lambda k: ranker.weights[k] * diffs[k])
        why += (
            f"; over candidate {runner_up + 1} ({scores[runner_up]['rank_score']}) mostly by {decisive}"
            f" ({terms[best][decisive]} vs {terms[runner_up][decisive]})"
        )
    if not passing:
        why += "; no candidate passed every check"
    elif len(passing) < len(candidates):
        why += f"; among the {len(passing)} of {len(candidates)} that passed every check"
    return best, why, scores
