"""Cheap text metrics used to score candidates (the full decoding study builds on these)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

WORD = re.compile(r"\w+(?:['’]\w+)?", re.UNICODE)


def words(text: str) -> list[str]:
    return [w.lower() for w in WORD.findall(text)]


def distinct_n(tokens: Sequence[object], n: int) -> float:
    """Share of n-grams that are unique (Li et al. 2016); 0 for texts shorter than n."""
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def mean_logprob(logprobs: Sequence[float] | None) -> float | None:
    finite = [lp for lp in logprobs or () if math.isfinite(lp)]
    return sum(finite) / len(finite) if finite else None


def perplexity(logprobs: Sequence[float] | None) -> float | None:
    mean = mean_logprob(logprobs)
    return math.exp(-mean) if mean is not None else None


def rep_n(tokens: Sequence[object], n: int) -> float:
    """SimCTG's rep-n: the share of n-grams that are repeats, as a fraction (0 = none)."""
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return 1.0 - len(set(grams)) / len(grams) if grams else 0.0


def simctg_diversity(tokens: Sequence[object]) -> float:
    """Su et al. 2022: the product of (1 - rep-n) for n = 2, 3, 4."""
    out = 1.0
    for n in (2, 3, 4):
        out *= 1.0 - rep_n(tokens, n)
    return out


def ends_in_repetition(tokens: Sequence[object], min_phrase: int = 2, min_times: int = 3) -> bool:
    """Holtzman et al. 2020: does the text end with a phrase of at least `min_phrase` tokens
    repeated at least `min_times` times in a row?"""
    for size in range(min_phrase, len(tokens) // min_times + 1):
        tail = tuple(tokens[len(tokens) - size :])
        if all(tuple(tokens[len(tokens) - size * (k + 1) : len(tokens) - size * k]) == tail for k in range(min_times)):
            return True
    return False


def zipf_coefficient(token_lists: Sequence[Sequence[object]], top: int = 5000) -> float:
    """The exponent s of a Zipf fit, frequency ~ rank^-s, over the `top` most frequent tokens of
    all texts pooled (least squares in log-log space, as in Holtzman et al. 2020)."""
    counts = Counter(token for tokens in token_lists for token in tokens)
    freqs = [c for _, c in counts.most_common(top)]
    if len(freqs) < 2:
        return 0.0
    xs = [math.log(rank) for rank in range(1, len(freqs) + 1)]
    ys = [math.log(f) for f in freqs]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    return -slope


def bleu4(hypothesis: Sequence[str], references: Sequence[Sequence[str]], epsilon: float = 0.1) -> float:
    """Sentence BLEU-4 against several references, as Texygen computes Self-BLEU (Zhu et al. 2018):
    NLTK's `sentence_bleu` with `SmoothingFunction().method1`, i.e. clipped n-gram precisions, a
    zero count replaced by `epsilon` over its total, no score at all without a matching unigram,
    and the brevity penalty of the closest reference length. (The add-one smoothing used here
    before is NLTK's method 2 and gave values about 3x higher than the papers'.)"""
    if not hypothesis or not references:
        return 0.0
    log_sum = 0.0
    for n in range(1, 5):
        grams = Counter(tuple(hypothesis[i : i + n]) for i in range(len(hypothesis) - n + 1))
        best: Counter[tuple[str, ...]] = Counter()
        for ref in references:
            ref_grams = Counter(tuple(ref[i : i + n]) for i in range(len(ref) - n + 1))
            for gram in grams:
                best[gram] = max(best[gram], ref_grams[gram])
        matched = sum(min(count, best[gram]) for gram, count in grams.items())
        total = max(1, sum(grams.values()))
        if n == 1 and matched == 0:
            return 0.0
        log_sum += math.log((matched if matched else epsilon) / total)
    closest = min((len(r) for r in references), key=lambda length: (abs(length - len(hypothesis)), length))
    brevity = 1.0 if len(hypothesis) > closest else math.exp(1 - closest / len(hypothesis))
    return brevity * math.exp(log_sum / 4)


def self_bleu4(texts: Sequence[Sequence[str]]) -> float:
    """Mean BLEU-4 of each text against all the others (Zhu et al. 2018, Texygen): high = alike."""
    if len(texts) < 2:
        return 0.0
    scores = [bleu4(text, [other for j, other in enumerate(texts) if j != i]) for i, text in enumerate(texts)]
    return sum(scores) / len(scores)
