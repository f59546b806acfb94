"""The green-list watermark: lists of the right size, a mark the detector finds with the key and
not without it, clear refusals where it cannot apply, and a key kept private."""

from __future__ import annotations

import json
import random
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from fabula.backends.hf import HFBackend
from fabula.cli.main import cli
from fabula.errors import InvalidParam
from fabula.pipeline import write
from fabula.responsible.watermark import GAMMA, green, key_id, load_or_create_key, score_ids
from fabula.sampling import SamplingParams
from fabula.settings import Settings
from tests.tiny_models import build_tiny_llama


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> HFBackend:
    folder = build_tiny_llama(tmp_path_factory.mktemp("tiny"), context=1024)
    return HFBackend(model=str(folder), settings=Settings(home=tmp_path_factory.mktemp("home"), threads=2))


def test_green_lists_hold_a_quarter_of_the_vocabulary_and_depend_on_the_key() -> None:
    rng = random.Random(0)
    prev = [rng.randrange(49152) for _ in range(20000)]
    toks = [rng.randrange(49152) for _ in range(20000)]
    share = green(key_id("k1"), prev, toks).mean()
    assert abs(share - GAMMA) < 0.01
    assert (green(key_id("k1"), prev, toks) != green(key_id("k2"), prev, toks)).mean() > 0.3


def test_unmarked_token_sequences_are_not_flagged() -> None:
    rng = random.Random(1)
    zs = [score_ids([rng.randrange(49152) for _ in range(200)], "secret")["z"] for _ in range(200)]
    assert max(zs) < 4.0  # the threshold; a z of 4 has a one-sided p of about 3e-5


def test_a_marked_text_is_detected_with_its_key_only(tiny: HFBackend) -> None:
    params = SamplingParams(seed=3, n=4, max_tokens=150, temperature=1.0, top_p=1.0, top_k=0, min_p=0.0)
    marked = write(tiny, "story", "a fox", params=params, watermark_key="secret")
    every = [list(c.completion.token_ids or ()) for c in marked.candidates]  # the tiny model ends early
    assert all(len(ids) >= 30 for ids in every)
    assert all(score_ids(ids, "secret")["watermarked"] for ids in every)
    assert not any(score_ids(ids, "another key")["watermarked"] for ids in every)
    chosen = every[marked.provenance["post"]["chosen_index"]]
    report = marked.provenance["watermark"]
    assert report["key"] != "secret" and report == score_ids(chosen, "secret") | {"delta": 2.0}
    plain = write(tiny, "story", "a fox", params=params)
    assert not any(score_ids(list(c.completion.token_ids or ()), "secret")["watermarked"] for c in plain.candidates)
    assert "watermark" not in plain.provenance


def test_detect_command_reads_the_text_with_the_models_tokenizer(
    tiny: HFBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FABULA_WATERMARK_KEY", "shared secret")
    from fabula.settings import get_settings

    get_settings.cache_clear()
    params = SamplingParams(seed=5, max_tokens=150, temperature=1.0, top_p=1.0, top_k=0, min_p=0.0)
    text = write(tiny, "story", "a fox", params=params, watermark_key="shared secret").candidates[0].raw_text
    (tmp_path / "marked.txt").write_text(text)
    result = CliRunner().invoke(
        cli, ["watermark", "detect", str(tmp_path / "marked.txt"), "--model", str(tiny.directory), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["watermarked"] and report["z"] >= 4.0


def test_watermark_is_refused_where_it_cannot_apply(tiny: HFBackend, settings: Settings) -> None:
    from fabula.backends.fake import FakeBackend

    with pytest.raises(InvalidParam, match="use the llamacpp or hf engine"):
        write(FakeBackend("x", settings), "story", "a fox", watermark_key="k")
    with pytest.raises(InvalidParam, match="free text"):
        write(tiny, "poem", "rain", {"form": "haiku"}, watermark_key="k")
    with pytest.raises(InvalidParam, match="xtc_probability=0.5 .*watermarked sampling does not apply it"):
        write(tiny, "story", "a fox", params=SamplingParams(xtc_probability=0.5), watermark_key="k")
    result = CliRunner().invoke(cli, ["write", "screenplay", "A logline.", "--watermark", "--engine", "fake"])
    assert result.exit_code == 2 and "not watermarked yet" in result.stderr


def test_the_key_file_is_created_once_and_private(tmp_path: Path) -> None:
    key = load_or_create_key("", tmp_path)
    assert load_or_create_key("", tmp_path) == key and len(key) == 64
    assert stat.S_IMODE((tmp_path / "watermark.key").stat().st_mode) == 0o600
    assert load_or_create_key("configured", tmp_path) == "configured"
