"""The llamacpp engine on the embedded SmolLM2 model (loads in about a second, decodes fast)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from fabula.backends.llamacpp import LlamaCppBackend, seed_groups
from fabula.errors import BackendError, ConfigError
from fabula.forms import get_form
from fabula.models import DEFAULT_MODEL_FILE
from fabula.sampling import MAX_SEED, SamplingParams
from fabula.settings import Settings
from fabula.types import Request


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> LlamaCppBackend:
    settings = Settings(home=tmp_path_factory.mktemp("home"), threads=2, n_ctx=2048)
    return LlamaCppBackend(model="", settings=settings)


def story_request(**params: object) -> Request:
    rendered = get_form("story").render("a fox who collects keys", {})
    return Request(rendered.messages, rendered.completion_prompt, SamplingParams(**params))  # type: ignore[arg-type]


def test_default_model_is_the_embedded_gguf(backend: LlamaCppBackend) -> None:
    info = backend.model_info()
    assert info["name"] == DEFAULT_MODEL_FILE
    assert len(str(info["sha256"])) == 64
    assert backend.capabilities.chat_template and not backend.capabilities.steerable


def test_same_seed_same_text_and_seeds_differ(backend: LlamaCppBackend) -> None:
    first = backend.complete(story_request(max_tokens=40, seed=42))[0]
    again = backend.complete(story_request(max_tokens=40, seed=42))[0]
    other = backend.complete(story_request(max_tokens=40, seed=43))[0]
    assert first.text and first.text == again.text
    assert other.text != first.text
    assert first.seed == 42 and first.completion_tokens == 40 and first.finish_reason == "length"
    assert first.token_logprobs is not None and len(first.token_logprobs) == 40


def test_n_candidates_use_consecutive_seeds(backend: LlamaCppBackend) -> None:
    pair = backend.complete(story_request(max_tokens=20, seed=7, n=2))
    alone = backend.complete(story_request(max_tokens=20, seed=8))[0]
    assert [c.seed for c in pair] == [7, 8]
    assert pair[1].text == alone.text  # candidate i is reproducible on its own


def test_streamed_deltas_add_up_to_the_text(backend: LlamaCppBackend) -> None:
    deltas: list[tuple[int, str]] = []
    done = backend.complete(story_request(max_tokens=30, seed=1), lambda i, d: deltas.append((i, d)))[0]
    assert "".join(d for _, d in deltas) == done.text
    assert {i for i, _ in deltas} == {0} and len(deltas) > 5


def test_stop_string_ends_generation(backend: LlamaCppBackend) -> None:
    text = backend.complete(story_request(max_tokens=60, seed=3, temperature=0))[0].text
    word = text.split()[3]
    stopped = backend.complete(story_request(max_tokens=60, seed=3, temperature=0, stop=(word,)))[0]
    assert word not in stopped.text and stopped.finish_reason == "stop"
    assert text.startswith(stopped.text)


def test_missing_or_wrong_model_file_is_a_config_error(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        LlamaCppBackend(model=str(tmp_path / "nope.gguf"), settings=settings)
    text_file = tmp_path / "notes.txt"
    text_file.write_text("hi")
    with pytest.raises(ConfigError, match="not a .gguf file"):
        LlamaCppBackend(model=str(text_file), settings=settings)
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises((BackendError, ConfigError, ValueError)):
        LlamaCppBackend(model=str(broken), settings=settings)


def test_an_exception_in_the_stream_callback_stops_generation_and_propagates(backend: LlamaCppBackend) -> None:
    seen: list[str] = []

    def on_text(index: int, delta: str) -> None:
        seen.append(delta)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        backend.complete(story_request(max_tokens=200, seed=2), on_text)
    assert len(seen) == 3  # llama.cpp stopped at once instead of finishing 200 tokens
    assert backend.complete(story_request(max_tokens=5, seed=2))[0].completion_tokens == 5  # still usable


def test_seed_groups_keep_each_candidates_seed() -> None:
    assert seed_groups([5, 6, 7, 8, 9], 2) == [(0, [5, 6]), (2, [7, 8]), (4, [9])]
    assert seed_groups([MAX_SEED - 1, MAX_SEED, 0, 1], 8) == [(0, [MAX_SEED - 1, MAX_SEED]), (2, [0, 1])]
    assert seed_groups([None, None, None], 2) == [(0, [None, None]), (2, [None])]


def test_candidates_decoded_together_are_each_candidate_run_alone(backend: LlamaCppBackend) -> None:
    """One request of n shares the prefill and the decode steps, yet gives the texts and the very
    log-probabilities of each seed alone, run after run."""
    assert backend.slots >= 4
    together = backend.complete(story_request(max_tokens=48, seed=30, n=4))
    again = backend.complete(story_request(max_tokens=48, seed=30, n=4))
    alone = [backend.complete(story_request(max_tokens=48, seed=30 + i))[0] for i in range(4)]
    assert [c.seed for c in together] == [30, 31, 32, 33]
    assert len({c.text for c in together}) == 4
    assert [(c.text, c.token_logprobs) for c in together] == [(c.text, c.token_logprobs) for c in again]
    assert [(c.text, c.token_logprobs) for c in together] == [(c.text, c.token_logprobs) for c in alone]
    assert all(c.prompt_tokens == alone[0].prompt_tokens > 0 for c in together)


def test_streamed_candidates_are_told_apart(backend: LlamaCppBackend) -> None:
    deltas: dict[int, list[str]] = {}
    done = backend.complete(story_request(max_tokens=24, seed=4, n=3), lambda i, d: deltas.setdefault(i, []).append(d))
    assert {i: "".join(d) for i, d in deltas.items()} == {i: c.text for i, c in enumerate(done)}


def test_concurrent_requests_share_the_slots_without_changing_a_text(backend: LlamaCppBackend) -> None:
    """The server's requests arrive on several threads; decoded in one batch, each is still the
    text its seed gives alone."""
    alone = [backend.complete(story_request(max_tokens=40, seed=60 + i))[0].text for i in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(
            pool.map(lambda i: backend.complete(story_request(max_tokens=40, seed=60 + i))[0].text, range(4))
        )
    assert together == alone


def test_more_candidates_than_slots_go_in_groups(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, threads=2, n_ctx=1024, llamacpp_slots=2)
    small = LlamaCppBackend(model="", settings=settings)
    try:
        three = small.complete(story_request(max_tokens=16, seed=9, n=3))
        alone = small.complete(story_request(max_tokens=16, seed=11))[0]
    finally:
        small.close()
    assert [c.seed for c in three] == [9, 10, 11]
    assert three[2].text == alone.text and len({c.text for c in three}) == 3


def test_a_request_beside_a_longer_one_keeps_its_seeds_text(backend: LlamaCppBackend) -> None:
    """Two requests a second apart share decode batches while their lengths straddle 256 cells:
    with flash attention this is where their logits used to change (token 240 of 300)."""
    long = replace(story_request(max_tokens=300, seed=70), ignore_eos=True)
    later = replace(story_request(max_tokens=300, seed=71), ignore_eos=True)
    alone = [backend.complete(r)[0].token_logprobs for r in (long, later)]

    def staggered(pair: tuple[Request, float]) -> tuple[float, ...] | None:
        time.sleep(pair[1])
        return backend.complete(pair[0])[0].token_logprobs

    with ThreadPoolExecutor(max_workers=2) as pool:
        together = list(pool.map(staggered, [(long, 0.0), (later, 1.0)]))
    assert together == alone and len(alone[0] or ()) == 300
