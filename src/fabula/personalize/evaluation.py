"""Offline evaluation of the recommenders on MovieLens-100k: leave-last-out, full ranking.

Each user's interactions are ordered by time: the last is the test item, the one before it the
validation item, the rest is training. Every method ranks all items the user has not met, and we
report NDCG@10, Recall@10 (with one held-out item it equals the hit rate) and coverage (the share
of the catalogue in anyone's top 10). Two phases, as a deployed system would run: fitted on the
training events, each method is scored on the validation items, where the hybrid's weights are
chosen; then every method is fitted again on training + validation events and scored on the test
items, which nothing was tuned on. The hybrid's gain over the best single method comes with a
paired bootstrap 95% interval over users, so a gain within noise reads as one.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fabula.data.movielens import MovieLens, load_movielens
from fabula.personalize.recommenders import BPR, ContentBased, Hybrid, ItemKNN, Popularity, recency_weights, standardise

K = 10


@dataclass(frozen=True)
class Split:
    train: np.ndarray  # [users, items] ratings, 0 where unseen
    valid: np.ndarray  # [users] item index
    test: np.ndarray  # [users] item index
    histories: list[list[int]]  # per user, the training items in time order


def leave_last_out(data: MovieLens) -> Split:
    by_user: dict[int, list[tuple[int, int, float]]] = {}
    for user, item, rating, stamp in data.ratings:
        by_user.setdefault(user, []).append((stamp, item, rating))
    train = np.zeros((data.users, data.items), dtype=np.float32)
    valid = np.zeros(data.users, dtype=np.int64)
    test = np.zeros(data.users, dtype=np.int64)
    histories: list[list[int]] = [[] for _ in range(data.users)]
    for user, events in by_user.items():
        events.sort()
        *rest, (_, valid[user], _), (_, test[user], _) = events
        for _, item, rating in rest:
            train[user, item] = rating
        histories[user] = [item for _, item, _ in rest]
    return Split(train, valid, test, histories)


def per_user_ndcg(scores: np.ndarray, exclude: np.ndarray, targets: np.ndarray) -> np.ndarray:
    masked = np.where(exclude, -np.inf, scores)
    ranks = (masked > masked[np.arange(len(targets)), targets][:, None]).sum(axis=1)
    return np.where(ranks < K, 1 / np.log2(ranks + 2), 0.0)


def rank_metrics(scores: np.ndarray, exclude: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """NDCG@10, Recall@10 and coverage@10 for one held-out item per user."""
    ndcg = per_user_ndcg(scores, exclude, targets)
    masked = np.where(exclude, -np.inf, scores)
    top = masked.argsort(axis=1)[:, -K:] if scores.shape[1] <= K else np.argpartition(-masked, K, axis=1)[:, :K]
    return {
        "ndcg@10": round(float(ndcg.mean()), 4),
        "recall@10": round(float((ndcg > 0).mean()), 4),
        "coverage": round(len(np.unique(top)) / scores.shape[1], 4),
    }


def paired_bootstrap(a: np.ndarray, b: np.ndarray, seed: int = 0, rounds: int = 2000) -> list[float]:
    """95% interval of mean(a - b) over users resampled with replacement."""
    rng = np.random.default_rng(seed)
    diff = a - b
    means = np.sort([diff[rng.integers(0, len(diff), len(diff))].mean() for _ in range(rounds)])
    return [round(float(means[int(0.025 * rounds)]), 4), round(float(means[int(0.975 * rounds) - 1]), 4)]


def item_texts(data: MovieLens) -> list[str]:
    return [f"{title}. Genres: {', '.join(g)}." for title, g in zip(data.titles, data.genres, strict=True)]


WEIGHT_GRID = {
    "item-knn": (0.0, 0.5, 1.0),
    "collaborative": (0.0, 0.25, 0.5, 1.0),
    "content": (0.0, 0.1, 0.2),
    "popularity": (0.0, 0.1, 0.2, 0.4),
}


def tune_weights(
    parts: dict[str, Any], users: Sequence[int], exclude: np.ndarray, targets: np.ndarray
) -> dict[str, float]:
    """The hybrid weights with the best validation NDCG@10 on a small grid."""
    standard = {name: standardise(part.scores(users)) for name, part in parts.items()}
    best: tuple[float, dict[str, float]] = (-1.0, {})
    for combo in itertools.product(*WEIGHT_GRID.values()):
        weights = dict(zip(WEIGHT_GRID, combo, strict=True))
        if not any(weights[k] for k in ("item-knn", "collaborative")):
            continue  # a hybrid has a collaborative part
        total = sum(w * standard[name] for name, w in weights.items() if w)
        ndcg = float(per_user_ndcg(np.asarray(total), exclude, targets).mean())
        if ndcg > best[0]:
            best = (ndcg, weights)
    return best[1]


def fit_all(
    train: np.ndarray, histories: list[list[int]], vectors: np.ndarray, epochs: int, seed: int
) -> tuple[dict[str, Any], dict[str, float]]:
    timings = {}
    parts: dict[str, Any] = {}
    for method in (
        Popularity(),
        ContentBased(vectors),
        ItemKNN(recency_weights(histories, train.shape[1])),
        BPR(epochs=epochs, seed=seed),
    ):
        started = time.perf_counter()
        parts[method.name] = method.fit(train)
        timings[method.name] = round(time.perf_counter() - started, 2)
    return parts, timings


def evaluate_ml100k(
    home: Path, seed: int = 0, epochs: int = 40, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Train and evaluate every method; the `fabula eval recommend` contract is `rows`."""
    from fabula.embeddings import embed

    note = progress or (lambda _message: None)
    data = load_movielens(home / "data" / "ml-100k")
    split = leave_last_out(data)
    users = list(range(data.users))
    vectors = embed(item_texts(data), home / "cache" / "embeddings")
    note("item embeddings (MiniLM)")

    parts, _ = fit_all(split.train, split.histories, vectors, epochs, seed)
    weights = tune_weights(parts, users, split.train > 0, split.valid)
    valid_scores = {name: p.scores(users) for name, p in parts.items()} | {
        "hybrid": Hybrid(parts, weights).scores(users)
    }
    note(f"validation phase done; hybrid weights {weights}")

    train_valid = split.train.copy()
    train_valid[np.arange(data.users), split.valid] = np.maximum(train_valid[np.arange(data.users), split.valid], 1)
    histories = [h + [int(v)] for h, v in zip(split.histories, split.valid, strict=True)]
    parts, timings = fit_all(train_valid, histories, vectors, epochs, seed)
    test_scores = {name: p.scores(users) for name, p in parts.items()} | {
        "hybrid": Hybrid(parts, weights).scores(users)
    }
    note("test phase done")

    rows = []
    per_user = {}
    for name, scores in test_scores.items():
        per_user[name] = per_user_ndcg(scores, train_valid > 0, split.test)
        rows.append(
            {
                "method": name,
                **rank_metrics(scores, train_valid > 0, split.test),
                "valid_ndcg@10": rank_metrics(valid_scores[name], split.train > 0, split.valid)["ndcg@10"],
                "fit_seconds": timings.get(name, 0.0),
            }
        )
    singles = [r for r in rows if r["method"] != "hybrid"]
    best_single = max(singles, key=lambda r: r["ndcg@10"])["method"]
    return {
        "dataset": "ml-100k",
        "split": "leave-last-out by timestamp; validation to tune, test after refitting on train+validation",
        "users": data.users,
        "items": data.items,
        "interactions": len(data.ratings),
        "hybrid_weights": weights,
        "bpr": {"factors": 128, "epochs": epochs},
        "rows": rows,
        "hybrid_vs_best_single": {
            "best_single": best_single,
            "ndcg@10_gain": round(float((per_user["hybrid"] - per_user[best_single]).mean()), 4),
            "ci95": paired_bootstrap(per_user["hybrid"], per_user[best_single], seed),
        },
        "hybrid_vs_popularity": {
            "ndcg@10_gain": round(float((per_user["hybrid"] - per_user["popularity"]).mean()), 4),
            "ci95": paired_bootstrap(per_user["hybrid"], per_user["popularity"], seed),
        },
    }
