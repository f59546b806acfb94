"""The hf engine's own decode loop on a tiny random model: seeds, candidates, streaming, stops, steering."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fabula.backends.hf import HFBackend
from fabula.errors import BackendError, ConfigError
from fabula.sampling import SamplingParams
from fabula.settings import Settings
from fabula.types import Message, Request
from tests.tiny_models import build_tiny_gpt2, build_tiny_llama


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> HFBackend:
    folder = build_tiny_llama(tmp_path_factory.mktemp("tiny"))
    return HFBackend(model=str(folder), settings=Settings(home=tmp_path_factory.mktemp("home"), threads=2))


def request(**params: object) -> Request:
    messages = (Message("system", "You write."), Message("user", "A fox who collects keys."))
    return Request(messages, "A fox who collects keys.\n", SamplingParams(**params))  # type: ignore[arg-type]


def test_chat_template_is_applied(backend: HFBackend) -> None:
    ids = backend.prompt_ids(request())
    text = backend.tokenizer.decode(ids)
    assert text.startswith("<|im_start|>system\nYou write.<|im_end|>")
    assert text.endswith("<|im_start|>assistant\n")
    assert backend.capabilities.steerable and backend.capabilities.chat_template


def test_same_seed_same_text(backend: HFBackend) -> None:
    first = backend.complete(request(max_tokens=24, seed=5, repetition_penalty=1.0))[0]
    again = backend.complete(request(max_tokens=24, seed=5, repetition_penalty=1.0))[0]
    other = backend.complete(request(max_tokens=24, seed=6, repetition_penalty=1.0))[0]
    assert first.completion_tokens > 0 and first.text == again.text
    assert other.text != first.text


def test_candidates_are_reproducible_alone(backend: HFBackend) -> None:
    three = backend.complete(request(max_tokens=16, seed=20, n=3))
    alone = backend.complete(request(max_tokens=16, seed=22))[0]
    assert [c.seed for c in three] == [20, 21, 22]
    assert three[2].text == alone.text
    assert len({c.text for c in three}) > 1


def test_greedy_is_seed_independent(backend: HFBackend) -> None:
    a = backend.complete(request(max_tokens=12, seed=1, temperature=0))[0]
    b = backend.complete(request(max_tokens=12, seed=99, temperature=0))[0]
    assert a.text == b.text


def test_stream_matches_text_and_logprobs_are_real(backend: HFBackend) -> None:
    pieces: list[str] = []
    done = backend.complete(request(max_tokens=20, seed=3), lambda i, d: pieces.append(d))[0]
    assert "".join(pieces) == done.text
    assert done.token_logprobs is not None and all(lp <= 0 for lp in done.token_logprobs)
    assert len(done.token_logprobs) == done.completion_tokens


def test_stop_string_cuts_text_and_is_never_streamed(backend: HFBackend) -> None:
    full = backend.complete(request(max_tokens=30, seed=4, temperature=0, repetition_penalty=1.0))[0].text
    stop = full[5:8]
    pieces: list[str] = []
    cut = backend.complete(
        request(max_tokens=30, seed=4, temperature=0, repetition_penalty=1.0, stop=(stop,)),
        lambda i, d: pieces.append(d),
    )[0]
    assert cut.finish_reason == "stop" and stop not in cut.text
    assert full.startswith(cut.text) and "".join(pieces) == cut.text


def test_extra_processor_steers_every_step(backend: HFBackend) -> None:
    free = backend.complete(request(max_tokens=10, seed=8, temperature=0))[0]
    banned = backend.tokenizer.encode(free.text)[0]

    def ban(input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        scores = scores.clone()
        scores[:, banned] = float("-inf")
        return scores

    backend.extra_processors = [ban]
    try:
        steered = backend.complete(request(max_tokens=10, seed=8, temperature=0))[0]
    finally:
        backend.extra_processors = []
    assert banned not in backend.tokenizer.encode(steered.text)


def test_context_overflow_is_a_clear_error(backend: HFBackend) -> None:
    with pytest.raises(BackendError, match="exceeds the model's context of 256"):
        backend.complete(request(max_tokens=1000))


def test_folder_without_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no config.json"):
        HFBackend(model=str(tmp_path), settings=Settings(home=tmp_path / "h"))


def test_base_model_without_template_uses_completion_prompt(tmp_path: Path) -> None:
    folder = build_tiny_llama(tmp_path / "base", chat=False)
    base = HFBackend(model=str(folder), settings=Settings(home=tmp_path / "h", threads=2))
    assert not base.capabilities.chat_template
    assert base.tokenizer.decode(base.prompt_ids(request())) == "A fox who collects keys.\n"
    assert base.complete(request(max_tokens=5, seed=1))[0].prompt_mode == "completion"


def test_gpt2_checkpoint_folder_generates_reproducibly(tmp_path: Path) -> None:
    folder = build_tiny_gpt2(tmp_path / "gpt2")
    gpt2 = HFBackend(model=str(folder), settings=Settings(home=tmp_path / "h", threads=2))
    first = gpt2.complete(request(max_tokens=12, seed=2))[0]
    again = gpt2.complete(request(max_tokens=12, seed=2))[0]
    assert first.prompt_mode == "completion" and first.completion_tokens > 0
    assert first.text == again.text
    assert gpt2.model_info()["name"] == "gpt2" and len(str(gpt2.model_info()["sha256"])) == 64


def test_no_repeat_ngram_holds_in_the_engine_output(backend: HFBackend) -> None:
    prompt = backend.prompt_ids(request())

    def repeats(**params: object) -> int:
        """Generated tokens that complete a bigram seen earlier in the sequence (prompt included)."""
        done = backend.complete(request(max_tokens=40, seed=9, temperature=0, repetition_penalty=1.0, **params))[0]
        assert done.token_ids is not None and len(done.token_ids) > 5
        ids = prompt + list(done.token_ids)
        seen = {tuple(ids[i : i + 2]) for i in range(len(prompt) - 1)}
        count = 0
        for k in range(len(prompt), len(ids)):
            gram = (ids[k - 1], ids[k])
            count += gram in seen
            seen.add(gram)
        return count

    assert repeats() > 0  # a random model, greedy, repeats itself...
    assert repeats(no_repeat_ngram=2) == 0  # ...and never does with the ban


def test_logit_bias_forces_and_bans_and_ignore_eos_writes_to_max_tokens(backend: HFBackend) -> None:
    """The OpenAI fields the hf engine honours, on a tiny random model."""
    from dataclasses import replace

    base = request(max_tokens=6, seed=3, temperature=0.0)
    plain = backend.complete(base)[0]
    assert plain.token_ids
    forced_id = (plain.token_ids[0] + 7) % 200 + 10
    forced = backend.complete(replace(base, logit_bias={forced_id: 100.0}))[0]
    assert forced.token_ids and all(t == forced_id for t in forced.token_ids)
    banned = backend.complete(replace(base, logit_bias={plain.token_ids[0]: -100.0}))[0]
    assert banned.token_ids and banned.token_ids[0] != plain.token_ids[0]
    long = backend.complete(replace(request(max_tokens=30, seed=3, temperature=0.0), ignore_eos=True))[0]
    assert long.completion_tokens == 30 and long.finish_reason == "length"
