"""No-repeat n-gram, DRY, epsilon and XTC on hand-made tensors; engines refuse what they lack."""

from __future__ import annotations

import math

import pytest
import torch

from fabula.decoding.anti_repetition import DRY, XTC, Epsilon, NoRepeatNGram
from fabula.decoding.processors import build_processors
from fabula.errors import InvalidParam
from fabula.sampling import SamplingParams, unsupported
from fabula.types import Message, Request

INF = -math.inf


def test_no_repeat_ngram_bans_the_completing_token() -> None:
    ids = torch.tensor([[5, 6, 7, 5, 6]])  # "5 6" was followed by 7: 7 would repeat "5 6 7"
    out = NoRepeatNGram(3)(ids, torch.zeros(1, 10))
    assert out[0, 7] == INF and (out[0, :7] == 0).all() and (out[0, 8:] == 0).all()
    assert (NoRepeatNGram(4)(ids, torch.zeros(1, 10)) == 0).all()


def test_dry_penalty_grows_with_the_repeated_length() -> None:
    # ... 1 2 3 4 | 1 2 3: the next 4 would extend a repeat of length 3
    ids = torch.tensor([[1, 2, 3, 4, 9, 1, 2, 3]])
    out = DRY(multiplier=1.0, base=2.0, allowed_length=2)(ids, torch.zeros(1, 10))
    assert out[0, 4].item() == pytest.approx(-2.0)  # 1.0 * 2 ** (3 - 2)
    assert (out[0, [0, 1, 2, 3, 5, 6, 7, 8, 9]] == 0).all()
    short = torch.tensor([[1, 2, 9, 1]])  # the repeat is one token long: under allowed_length
    assert (DRY(1.0, 2.0, 2)(short, torch.zeros(1, 10)) == 0).all()


def test_epsilon_keeps_the_top_token_even_when_all_are_small() -> None:
    scores = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log()
    kept = Epsilon(0.1)(torch.zeros(1, 1, dtype=torch.long), scores)
    assert [i for i, v in enumerate(kept[0].tolist()) if v != INF] == [0, 1, 2]
    flat = torch.zeros(1, 40)  # every token at 0.025 < epsilon
    assert (Epsilon(0.1)(torch.zeros(1, 1, dtype=torch.long), flat)[0] != INF).sum() == 1


def test_xtc_removes_all_but_the_least_likely_top_choice() -> None:
    scores = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log()
    ids = torch.zeros(1, 1, dtype=torch.long)
    always = XTC(probability=1.0, threshold=0.1, seed=0)(ids, scores)
    assert [i for i, v in enumerate(always[0].tolist()) if v != INF] == [2, 3]
    never_enough = XTC(1.0, 0.45, seed=0)(ids, scores)  # only one token above 0.45: nothing happens
    assert torch.equal(never_enough, scores)
    a, b = XTC(0.5, 0.1, seed=7), XTC(0.5, 0.1, seed=7)
    assert all(torch.equal(a(ids, scores), b(ids, scores)) for _ in range(10))  # seeded


def test_chain_order_with_every_control_on() -> None:
    params = SamplingParams(
        no_repeat_ngram=3, dry_multiplier=0.8, epsilon=0.01, xtc_probability=0.5, seed=1, top_k=40, typical_p=0.9
    )
    names = [type(p).__name__ for p in build_processors(params, 4)]
    assert names == [
        "NoRepeatNGram",
        "RepetitionPenalty",
        "DRY",
        "TopK",
        "TypicalP",
        "TopP",
        "MinP",
        "Epsilon",
        "XTC",
        "Temperature",
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("epsilon", 0.5),
        ("epsilon", -0.1),
        ("no_repeat_ngram", -1),
        ("dry_multiplier", 6.0),
        ("dry_base", 1.0),
        ("dry_allowed_length", 0),
        ("xtc_probability", 1.5),
        ("xtc_threshold", 0.6),
    ],
)
def test_new_fields_are_validated(field: str, value: object) -> None:
    with pytest.raises(InvalidParam, match=field):
        SamplingParams(**{field: value})  # type: ignore[arg-type]


def test_engines_refuse_controls_they_lack() -> None:
    from fabula.backends.llamacpp import sampling_fields
    from fabula.backends.openai_compat import request_body

    def req(**kw: object) -> Request:
        return Request((Message("user", "hi"),), "hi", SamplingParams(**kw))  # type: ignore[arg-type]

    assert unsupported(SamplingParams(epsilon=0.1, dry_multiplier=1.0), {"dry_multiplier"}) == ["epsilon"]
    body = sampling_fields(req(dry_multiplier=0.8, xtc_probability=0.3), seed=1)
    assert body["dry_multiplier"] == 0.8 and body["xtc_probability"] == 0.3
    with pytest.raises(InvalidParam, match="epsilon=0.05 .*the llamacpp engine does not apply it"):
        sampling_fields(req(epsilon=0.05), seed=1)
    with pytest.raises(InvalidParam, match="no_repeat_ngram=3"):
        sampling_fields(req(no_repeat_ngram=3), seed=1)
    assert request_body(req(dry_multiplier=0.8), "m", 1, "llamacpp")["dry_base"] == 1.75
    with pytest.raises(InvalidParam, match="dry_multiplier=0.8 .*dialect 'vllm'"):
        request_body(req(dry_multiplier=0.8), "m", 1, "vllm")


def test_llamacpp_honours_dry_and_xtc_and_hf_all(settings: object) -> None:
    from fabula.backends.llamacpp import LlamaCppBackend
    from fabula.pipeline import write

    backend = LlamaCppBackend("", settings)  # type: ignore[arg-type]
    plain = write(backend, "story", "a fox", {}, SamplingParams(seed=3, max_tokens=60))
    dry = write(
        backend,
        "story",
        "a fox",
        {},
        SamplingParams(seed=3, max_tokens=60, dry_multiplier=2.0, xtc_probability=1.0, xtc_threshold=0.05),
    )
    assert plain.candidates[0].raw_text != dry.candidates[0].raw_text
    with pytest.raises(InvalidParam, match="constrained verse decoding does not apply it"):
        write(backend, "poem", "rain", {"form": "haiku"}, SamplingParams(seed=1, dry_multiplier=1.0))


def test_creativity_presets_come_from_the_calibration() -> None:
    from fabula.decoding.creativity import calibration, preset

    data = calibration()
    levels = data["levels"]
    assert [level["creativity"] for level in levels] == [0.0, 0.25, 0.5, 0.75, 1.0]
    diversities = [level["diversity"] for level in levels]
    assert diversities == sorted(diversities)  # more creativity, more measured diversity
    assert all(level["perplexity"] <= data["human"]["perplexity"] for level in levels)
    assert preset(0.0)["temperature"] == levels[0]["params"]["temperature"]
    assert preset(1.0)["min_p"] == levels[-1]["params"]["min_p"]
    middle = preset(0.125)
    low, high = sorted((levels[0]["params"]["temperature"], levels[1]["params"]["temperature"]))
    assert low <= middle["temperature"] <= high
    with pytest.raises(InvalidParam, match="creativity=1.5"):
        preset(1.5)


def test_cli_creativity_sets_the_sampler_but_explicit_flags_win() -> None:
    import json

    from click.testing import CliRunner

    from fabula.cli.main import cli
    from fabula.decoding.creativity import preset

    def params(*extra: str) -> dict:
        result = CliRunner().invoke(cli, ["write", "story", "x", "--engine", "fake", "--json", *extra])
        return json.loads(result.stdout)["provenance"]["params"]

    chosen = params("--creativity", "1")
    assert chosen["temperature"] == preset(1.0)["temperature"] and chosen["min_p"] == preset(1.0)["min_p"]
    assert params("--creativity", "1", "--temperature", "0.3")["temperature"] == 0.3
    bad = CliRunner().invoke(cli, ["write", "story", "x", "--engine", "fake", "--creativity", "2"])
    assert bad.exit_code == 2 and "creativity=2.0" in bad.stderr
