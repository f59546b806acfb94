"""Decoding metrics on texts whose answer is known, and the `fabula eval decoding` contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fabula.quality.metrics import bleu4, ends_in_repetition, rep_n, self_bleu4, simctg_diversity, zipf_coefficient


def test_repetition_at_the_end_as_holtzman_defines_it() -> None:
    assert ends_in_repetition("a b c d e f e f e f".split())  # "e f" three times at the end
    assert not ends_in_repetition("a b e f e f c".split())  # repeated, but not at the end
    assert not ends_in_repetition("e f e f".split())  # only twice
    assert ends_in_repetition(list("xyzabcabcabc"))


def test_simctg_diversity_and_rep_n() -> None:
    assert simctg_diversity("one two three four five six".split()) == 1.0
    assert rep_n("a b a b a b".split(), 2) == pytest.approx(1 - 2 / 5)
    assert simctg_diversity("a b a b a b".split()) < 0.3


def test_zipf_of_an_exact_power_law() -> None:
    texts = [[f"w{r}" for r in range(1, 30) for _ in range(int(1000 / r))]]
    assert zipf_coefficient(texts) == pytest.approx(1.0, abs=0.02)
    steeper = [[f"w{r}" for r in range(1, 30) for _ in range(int(1000 / r**2))]]
    assert zipf_coefficient(steeper) > 1.8


def test_bleu_and_self_bleu() -> None:
    sentence = "the quick brown fox jumps over the lazy dog".split()
    assert bleu4(sentence, [sentence]) == pytest.approx(1.0)
    assert bleu4(sentence, ["an entirely different line of words here".split()]) < 0.1
    same = self_bleu4([sentence, sentence, sentence])
    varied = self_bleu4([sentence, "a cat sat on a warm mat today".split(), "rain fell on the hills at noon".split()])
    assert same == pytest.approx(1.0) and varied < 0.2


def test_self_bleu_is_texygens_nltk_method_1() -> None:
    """Equal to NLTK's sentence_bleu with SmoothingFunction().method1, as Texygen computes it."""
    import random

    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

    rng = random.Random(3)
    vocab = "the a sea light keeper night ship bell rope tide came went over under".split()
    smooth = SmoothingFunction().method1
    for _ in range(60):
        texts = [[rng.choice(vocab) for _ in range(rng.randint(2, 30))] for _ in range(rng.randint(2, 5))]
        for i, text in enumerate(texts):
            others = [t for j, t in enumerate(texts) if j != i]
            assert bleu4(text, others) == pytest.approx(
                sentence_bleu(others, text, smoothing_function=smooth), abs=1e-12
            )


@pytest.mark.slow
def test_eval_decoding_quick_json_contract(tmp_path: Path, fabula_home: Path) -> None:
    from click.testing import CliRunner

    from fabula.backends import close_all
    from fabula.cli.main import cli

    close_all()
    args = ["eval", "decoding", "--quick", "--prompts", "2", "--max-tokens", "16", "--out", str(tmp_path), "--json"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    close_all()
    data = json.loads(result.stdout)
    methods = [row["method"] for row in data["rows"]]
    assert methods == [
        "greedy",
        "beam",
        "pure",
        "temperature_0.9",
        "top_k_40",
        "top_k_640",
        "top_k_40_t0.7",
        "top_p_0.95",
        "typical_0.95",
        "min_p_0.1",
        "contrastive",
        "human",
    ]
    keys = {"method", "perplexity", "self_bleu4", "zipf", "repetition_pct", "distinct_1", "distinct_2", "diversity"}
    assert all(keys <= set(row) for row in data["rows"])
    by = {row["method"]: row for row in data["rows"]}
    assert by["greedy"]["perplexity"] < by["pure"]["perplexity"]  # the model likes its own mode best
    assert Path(data["files"]["plot"]).stat().st_size > 10_000
    assert (tmp_path / "table.md").read_text().startswith("| method |")
