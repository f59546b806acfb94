"""Recommenders and their offline evaluation: known structure in, the expected ranking out."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from fabula.data.movielens import MovieLens
from fabula.personalize.evaluation import leave_last_out, paired_bootstrap, rank_metrics, tune_weights
from fabula.personalize.recommenders import BPR, ContentBased, Hybrid, ItemKNN, Popularity, recency_weights


def blocks(users: int = 40, items: int = 20) -> np.ndarray:
    """Two tastes: even users meet items 0-9, odd users items 10-19 (each leaves some out)."""
    rng = np.random.default_rng(0)
    train = np.zeros((users, items))
    for u in range(users):
        own = range(0, 10) if u % 2 == 0 else range(10, 20)
        for i in rng.choice(list(own), size=6, replace=False):
            train[u, i] = 1.0
    return train


def test_rank_metrics_on_hand_made_scores() -> None:
    scores = np.array([[0.9, 0.8, 0.1], [0.1, 0.2, 0.3]])
    exclude = np.array([[True, False, False], [False, False, False]])
    result = rank_metrics(scores, exclude, np.array([1, 0]))
    # user 0: item 1 ranks first once item 0 is excluded (1.0); user 1: item 0 ranks third (1/log2(4))
    assert result["ndcg@10"] == pytest.approx((1.0 + 0.5) / 2, abs=1e-4)
    assert result["recall@10"] == 1.0 and result["coverage"] == 1.0


def test_leave_last_out_keeps_time_order() -> None:
    data = MovieLens(
        [(0, 2, 5.0, 30), (0, 0, 4.0, 10), (0, 1, 3.0, 20), (0, 3, 1.0, 40)], ["a", "b", "c", "d"], [[]] * 4, 1
    )
    split = leave_last_out(data)
    assert split.valid.tolist() == [2] and split.test.tolist() == [3]
    assert split.histories == [[0, 1]] and split.train[0].tolist() == [4.0, 3.0, 0.0, 0.0]


def test_popularity_counts_users() -> None:
    train = np.array([[1.0, 0, 1], [1, 0, 0], [1, 1, 0]])
    assert Popularity().fit(train).scores([0])[0].argmax() == 0


def test_bpr_learns_two_tastes() -> None:
    train = blocks()
    bpr = BPR(factors=8, epochs=30, learning_rate=0.05, batch_size=64).fit(train)
    scores = bpr.scores(range(40))
    assert bpr.losses[-1] < bpr.losses[0] * 0.7
    own = np.where(np.arange(20)[None, :] < 10, 1, 0) == (np.arange(40)[:, None] % 2 == 0)
    assert scores[own].mean() > scores[~own].mean() + 1.0


def test_item_knn_follows_the_latest_item() -> None:
    train = np.array([[1.0, 1, 0, 0], [0, 0, 1, 1], [1, 1, 0, 0], [0, 0, 1, 1], [1, 0, 1, 0]])
    recent = recency_weights([[2, 0], [0], [0], [0], [0]], 4)  # user 0 met 2, then 0: 0 is the latest
    knn = ItemKNN(recent).fit(train)
    assert knn.scores([0])[0].argmax() == 1  # 1 always comes with 0
    assert recent[0, 0] == 1.0 and recent[0, 2] == pytest.approx(0.8)


def test_content_profiles_follow_what_a_user_rated() -> None:
    vectors = np.eye(4)
    train = np.array([[5.0, 0, 0, 0], [0, 0, 1, 0]])
    content = ContentBased(vectors).fit(train)
    assert content.scores([0, 1]).argmax(axis=1).tolist() == [0, 2]


def test_hybrid_weights_are_chosen_on_validation_and_can_only_help_there() -> None:
    train = blocks()
    recent = recency_weights([list(np.flatnonzero(row)) for row in train], 20)
    parts = {
        "popularity": Popularity().fit(train),
        "content": ContentBased(np.random.default_rng(1).normal(size=(20, 8))).fit(train),
        "item-knn": ItemKNN(recent).fit(train),
        "collaborative": BPR(factors=8, epochs=10, learning_rate=0.05, batch_size=64).fit(train),
    }
    rng = np.random.default_rng(2)
    targets = np.array(
        [rng.choice(np.flatnonzero((train[u] == 0) & ((np.arange(20) < 10) == (u % 2 == 0)))) for u in range(40)]
    )
    weights = tune_weights(parts, range(40), train > 0, targets)
    hybrid = rank_metrics(Hybrid(parts, weights).scores(range(40)), train > 0, targets)["ndcg@10"]
    for name in ("item-knn", "collaborative"):
        assert hybrid >= rank_metrics(parts[name].scores(range(40)), train > 0, targets)["ndcg@10"]


def test_paired_bootstrap_brackets_the_mean_difference() -> None:
    a = np.array([1.0, 0.5, 0.0, 1.0] * 50)
    low, high = paired_bootstrap(a, a - 0.1)
    assert low == pytest.approx(0.1) and high == pytest.approx(0.1)


@pytest.mark.slow
def test_eval_recommend_contract_on_movielens() -> None:
    from fabula.cli.main import cli

    result = CliRunner().invoke(cli, ["eval", "recommend", "--dataset", "ml-100k", "--epochs", "5", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["method"]: r for r in json.loads(result.stdout)["rows"]}
    assert {"popularity", "hybrid", "content", "collaborative"} <= set(rows)
    assert all({"ndcg@10", "recall@10", "coverage"} <= set(r) for r in rows.values())
    assert rows["hybrid"]["ndcg@10"] > rows["popularity"]["ndcg@10"]
