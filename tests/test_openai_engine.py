"""The openai engine against a real llama.cpp server on 127.0.0.1, and its error normalisation."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from fabula.backends.openai_compat import OpenAIBackend, request_body
from fabula.errors import BackendError, InvalidParam
from fabula.forms import get_form
from fabula.sampling import SamplingParams
from fabula.settings import Settings
from fabula.types import Message, Request
from tests.llama_server import LlamaServer, start_llama_server


@pytest.fixture(scope="module")
def server() -> Iterator[LlamaServer]:
    running = start_llama_server()
    yield running
    running.stop()


def make(server: LlamaServer, tmp_path: object, **overrides: object) -> OpenAIBackend:
    fields = {"home": tmp_path, "openai_base_url": server.url, "openai_api_key": server.api_key, **overrides}
    return OpenAIBackend(model="smollm2", settings=Settings(**fields))  # type: ignore[arg-type]


def request(**params: object) -> Request:
    rendered = get_form("poem").render("a kettle singing at dawn", {})
    return Request(rendered.messages, rendered.completion_prompt, SamplingParams(**params))  # type: ignore[arg-type]


def test_streaming_and_non_streaming_agree(server: LlamaServer, tmp_path: object) -> None:
    backend = make(server, tmp_path)
    pieces: list[str] = []
    streamed = backend.complete(request(max_tokens=40, seed=9), lambda i, d: pieces.append(d))[0]
    whole = backend.complete_once(request(max_tokens=40, seed=9))
    assert streamed.text and streamed.text == whole.text == "".join(pieces)
    assert streamed.completion_tokens == whole.completion_tokens == 40
    assert streamed.token_logprobs is not None and len(streamed.token_logprobs) == 40
    backend.close()


def test_seeded_output_matches_the_in_process_engine(server: LlamaServer, tmp_path: object) -> None:
    from fabula.backends.llamacpp import LlamaCppBackend

    local = LlamaCppBackend("", Settings(home=tmp_path, threads=2, n_ctx=2048))  # type: ignore[arg-type]
    remote = make(server, tmp_path)
    assert (
        local.complete(request(max_tokens=25, seed=4))[0].text
        == remote.complete(request(max_tokens=25, seed=4))[0].text
    )
    remote.close()


def test_wrong_key_is_not_retryable(server: LlamaServer, tmp_path: object) -> None:
    backend = make(server, tmp_path, openai_api_key="wrong")
    with pytest.raises(BackendError, match="HTTP 401.*FABULA_OPENAI_API_KEY") as info:
        backend.complete(request(max_tokens=5, seed=1))
    assert not info.value.retryable
    backend.close()


def test_server_side_refusal_carries_its_message(server: LlamaServer, tmp_path: object) -> None:
    backend = make(server, tmp_path)
    huge = Request((Message("user", "word " * 5000),), "", SamplingParams(max_tokens=5, seed=1))
    with pytest.raises(BackendError, match="HTTP 400") as info:
        backend.complete(huge)
    assert not info.value.retryable
    backend.close()


def test_unreachable_server_is_retryable(tmp_path: object) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    settings = Settings(home=tmp_path, openai_base_url=f"http://127.0.0.1:{port}/v1")  # type: ignore[arg-type]
    backend = OpenAIBackend(model="x", settings=settings, retries=1)
    with pytest.raises(BackendError, match="cannot reach") as info:
        backend.complete(request(max_tokens=5, seed=1))
    assert info.value.retryable
    backend.close()


def test_strict_server_refuses_extras_instead_of_dropping_them(server: LlamaServer, tmp_path: object) -> None:
    backend = make(server, tmp_path, openai_dialect="openai")
    with pytest.raises(InvalidParam, match="top_k=40 .*dialect 'openai' cannot honour it"):
        backend.complete(request(max_tokens=5, seed=1))
    neutral = request(max_tokens=5, seed=1, top_k=0, min_p=0.0, repetition_penalty=1.0)
    assert backend.complete(neutral)[0].completion_tokens == 5
    backend.close()


def test_dialects_name_fields_as_each_server_expects() -> None:
    req = request(max_tokens=5, seed=1, repetition_penalty=1.3, typical_p=1.0)
    assert request_body(req, "m", 1, "llamacpp")["repeat_penalty"] == 1.3
    assert request_body(req, "m", 1, "vllm")["repetition_penalty"] == 1.3
    assert "cache_prompt" not in request_body(req, "m", 1, "vllm")
    with pytest.raises(InvalidParam, match="typical_p=0.9 .*dialect 'vllm'"):
        request_body(request(typical_p=0.9), "m", 1, "vllm")
