"""Configurable best-of-n ranking, and the bounded loop detector that resamples."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from fabula.backends.fake import FakeBackend
from fabula.cli.main import cli
from fabula.errors import InvalidParam
from fabula.pipeline import write
from fabula.post.loops import MAX_RESAMPLES, find_loop
from fabula.post.rank import Ranker, choose, score
from fabula.sampling import SamplingParams
from fabula.settings import get_settings
from fabula.types import Candidate, Completion


def _candidate(text: str, logprob: float, checks: list[bool]) -> Candidate:
    completion = Completion(text, "stop", 1, completion_tokens=4, token_logprobs=(logprob,) * 4)
    verdicts = [{"check": f"c{i}", "passed": ok, "detail": "", "severity": "warning"} for i, ok in enumerate(checks)]
    return Candidate(text, text, score(text, completion), verdicts, completion)


def test_rank_spec_is_parsed_and_bad_specs_are_named() -> None:
    ranker = Ranker.parse("likelihood=1, compliance=2.5")
    assert dict(ranker.weights) == {"likelihood": 1.0, "compliance": 2.5}
    assert ranker.formula.startswith("1 * likelihood + 2.5 * compliance")
    with pytest.raises(InvalidParam, match="terms likelihood, repetition, compliance, distance"):
        Ranker.parse("fluency=1")
    with pytest.raises(InvalidParam, match="weight of distance must be a number, not 'far'"):
        Ranker.parse("distance=far")


def test_weights_change_the_winner() -> None:
    fluent_sloppy = _candidate("the sea was calm and the night was long", -0.5, [False, False])
    stiff_compliant = _candidate("a fox crossed the frozen river at dawn", -2.0, [True, True])
    cands = [fluent_sloppy, stiff_compliant]
    assert choose(cands)[0] == 0  # default: likelihood decides
    best, why, scores = choose(cands, Ranker.parse("likelihood=1,compliance=3"))
    assert best == 1 and "mostly by compliance (1.0 vs 0.0)" in why
    assert scores[1]["rank_compliance"] == 1.0 and scores[0]["rank_compliance"] == 0.0


def test_distance_rewards_the_odd_one_out() -> None:
    same_a = _candidate("the sea was calm and the night was long", -1.0, [True])
    same_b = _candidate("the sea was calm and the night was cold", -1.0, [True])
    other = _candidate("a fox crossed the frozen river at dawn", -1.0, [True])
    best, _, scores = choose([same_a, same_b, other], Ranker.parse("distance=1"))
    assert best == 2
    assert scores[2]["rank_distance"] > scores[0]["rank_distance"] > 0


def test_find_loop() -> None:
    assert find_loop("The sea was calm tonight.\\nThe gulls were gone.") is None
    assert "appears 3 times" in (find_loop("I walk the line\nI walk the line\nI walk the line") or "")
    assert "ends repeating" in (find_loop("and then " + "we go round " * 4) or "")
    assert find_loop("Oh\nOh\nOh") is None  # short interjections are not loops
    assert find_loop("春风又绿江南岸明月何时照我还\n" * 3) is not None  # unspaced scripts too


def test_looping_candidate_is_resampled_with_a_recorded_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    looping = "We go round and round. " + "round and round " * 6
    fresh = "The lighthouse keeper counted the ships that never came, and lit the lamp anyway."
    backend = FakeBackend("", get_settings(), scripts=[looping, fresh, fresh])
    work = write(backend, "story", "a lighthouse", params=SamplingParams(n=1, seed=5))
    assert work.text == fresh
    assert work.provenance["resampled"] == [
        {"candidate": 0, "defect": "the text ends repeating a phrase three or more times", "seed": 6, "fixed": True}
    ]


def test_resampling_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    looping = "round and round " * 8
    backend = FakeBackend("", get_settings(), scripts=[looping])
    work = write(backend, "story", "a loop", params=SamplingParams(n=2, seed=1))
    assert len(work.provenance["resampled"]) == MAX_RESAMPLES
    assert backend._served == 2 + MAX_RESAMPLES
    assert all(not r["fixed"] for r in work.provenance["resampled"])
    failed = [v for v in work.candidates[0].verdicts if v["check"] == "no_loop"]
    assert failed and not failed[0]["passed"]


def test_cli_rank_option_is_recorded() -> None:
    result = CliRunner().invoke(
        cli, ["write", "story", "a fox", "--engine", "fake", "--n", "3", "--rank", "likelihood=1,distance=2", "--json"]
    )
    assert result.exit_code == 0, result.output
    work = json.loads(result.stdout)
    assert work["provenance"]["post"]["rank_formula"].startswith("1 * likelihood + 2 * distance")
    assert all("rank_distance" in c["scores"] for c in work["candidates"])
    bad = CliRunner().invoke(cli, ["write", "story", "a fox", "--engine", "fake", "--rank", "speed=1"])
    assert bad.exit_code == 2 and "rank='speed=1'" in bad.output
