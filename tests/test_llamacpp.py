"""The llamacpp engine on the embedded SmolLM2 model (loads in about a second, decodes fast)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fabula.backends.llamacpp import LlamaCppBackend
from fabula.errors import BackendError, ConfigError
from fabula.forms import get_form
from fabula.models import DEFAULT_MODEL_FILE
from fabula.sampling import SamplingParams
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
