"""Phrase bans by backtracking: the phrase never appears, and only its first token is forbidden."""

from __future__ import annotations

import pytest

from fabula.decoding.antislop import _banned_start
from fabula.errors import InvalidParam
from fabula.pipeline import write
from fabula.sampling import SamplingParams
from fabula.settings import Settings


def test_banned_start_finds_the_first_token_of_a_phrase() -> None:
    pieces = ["It", " was", " a", " test", "ament", " to"]
    assert _banned_start(pieces, ["a testament to"]) == 2
    assert _banned_start(pieces, ["testament to"]) == 3
    assert _banned_start(pieces[:4], ["a testament to"]) is None  # not complete yet
    assert _banned_start(["A", " Test", "ament", " To"], ["a testament to"]) == 0  # case-insensitive


@pytest.mark.slow
def test_llamacpp_output_never_contains_a_banned_phrase(settings: Settings) -> None:
    from fabula.backends.llamacpp import LlamaCppBackend

    backend = LlamaCppBackend("", settings)
    params = SamplingParams(seed=4, max_tokens=80)
    free = write(backend, "story", "a lighthouse keeper", {}, params).candidates[0].raw_text
    words = [w.strip(".,!?\"'").lower() for w in free.split()]
    banned = [w for w in words if len(w) > 5][:3]
    assert banned, free
    steered = write(backend, "story", "a lighthouse keeper", {}, params.with_(ban_phrases=tuple(banned)))
    text = steered.candidates[0].raw_text.lower()
    assert text and all(word not in text for word in banned)
    again = write(backend, "story", "a lighthouse keeper", {}, params.with_(ban_phrases=tuple(banned)))
    assert again.candidates[0].raw_text == steered.candidates[0].raw_text  # reproducible by seed


def test_bans_need_a_steppable_engine_and_a_free_form(settings: Settings) -> None:
    from fabula.backends.fake import FakeBackend

    params = SamplingParams(seed=1, ban_phrases=("the sea",))
    with pytest.raises(InvalidParam, match="phrase bans need an engine that can be stepped"):
        write(FakeBackend("x", settings), "story", "x", {}, params)
    with pytest.raises(InvalidParam, match="fixed verse forms are already constrained"):
        write(FakeBackend("x", settings), "poem", "x", {"form": "haiku"}, params)
    with pytest.raises(InvalidParam, match="each banned phrase must be 1 to 100 characters"):
        SamplingParams(ban_phrases=("",))
