"""The OpenAI protocol as real clients speak it: the fields newer SDKs and front ends send
(`max_completion_tokens`, the `developer` role, llama.cpp's `repeat_penalty`), `n` with `stream`
(chunks carry their choice's index), `stream_options.include_usage`, `response_format` decoded
under a JSON Schema, and `GET /v1/models/{id}`; each honoured, none silently dropped. The
official `openai` client (sync, async, streaming) is the judge."""

from __future__ import annotations

import asyncio
import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fabula.api.app import create_app
from fabula.backends import close_all
from fabula.settings import Settings
from tests.conftest import LOCAL, app_engine
from tests.test_api import serve

HI = [{"role": "user", "content": "Say hello."}]


def chunks(client: TestClient, body: dict[str, Any]) -> list[dict[str, Any]]:
    with client.stream("POST", "/v1/chat/completions", json=body | {"stream": True}) as reply:
        assert reply.status_code == 200, reply.read()
        lines = [line[6:] for line in reply.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


def test_the_fields_newer_clients_send_are_honoured(fake_client: TestClient) -> None:
    engine = app_engine(fake_client)
    body = {"messages": [{"role": "developer", "content": "Be brief."}, *HI], "max_completion_tokens": 5}
    reply = fake_client.post("/v1/chat/completions", json=body | {"repeat_penalty": 1.3})
    assert reply.status_code == 200, reply.text
    assert len(reply.json()["choices"][0]["message"]["content"].split()) == 5
    sent = engine.requests[-1]
    assert sent.messages[0].role == "system" and sent.params.max_tokens == 5 and sent.params.repetition_penalty == 1.3
    both = fake_client.post("/v1/chat/completions", json=body | {"max_tokens": 9})
    assert both.status_code == 400 and both.json()["error"]["param"] == "max_completion_tokens"
    assert fake_client.get("/v1/models/fabula-poem").json()["id"] == "fabula-poem"
    assert fake_client.get("/v1/models/gpt-9").status_code == 404


def test_n_streams_with_each_chunk_carrying_its_choice(fake_client: TestClient) -> None:
    body = {"messages": HI, "n": 3, "seed": 5, "max_tokens": 12}
    whole = fake_client.post("/v1/chat/completions", json=body).json()
    events = chunks(fake_client, body)
    texts: dict[int, str] = {}
    finished = {}
    for event in events:
        for choice in event["choices"]:
            texts[choice["index"]] = texts.get(choice["index"], "") + (choice["delta"].get("content") or "")
            if choice["finish_reason"]:
                finished[choice["index"]] = choice["finish_reason"]
    assert sorted(texts) == [0, 1, 2] and sorted(finished) == [0, 1, 2]
    assert [texts[i] for i in range(3)] == [c["message"]["content"] for c in whole["choices"]]
    assert len(set(texts.values())) == 3  # three candidates, not one three times


def test_include_usage_ends_the_stream_with_a_usage_chunk(fake_client: TestClient) -> None:
    plain = chunks(fake_client, {"messages": HI, "max_tokens": 6})
    assert all(event["choices"] for event in plain)
    events = chunks(fake_client, {"messages": HI, "max_tokens": 6, "stream_options": {"include_usage": True}})
    last = events[-1]
    assert last["choices"] == [] and last["usage"]["completion_tokens"] == 6
    bad = fake_client.post("/v1/chat/completions", json={"messages": HI, "stream_options": {"include_usage": "yes"}})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "stream_options.include_usage"


def test_json_mode_needs_an_engine_that_decodes_under_a_schema(fake_client: TestClient) -> None:
    reply = fake_client.post("/v1/chat/completions", json={"messages": HI, "response_format": {"type": "json_object"}})
    assert reply.status_code == 400 and "cannot decode under a schema" in reply.json()["error"]["message"]
    wrong = fake_client.post("/v1/chat/completions", json={"messages": HI, "response_format": {"type": "xml"}})
    assert wrong.status_code == 400 and wrong.json()["error"]["param"] == "response_format.type"


@pytest.fixture(scope="module")
def llama_client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    close_all()
    app = create_app(Settings(home=tmp_path_factory.mktemp("home"), engine="llamacpp", model=""))
    with TestClient(app, base_url=LOCAL) as client:
        yield client
    close_all()


def test_json_schema_output_is_valid_json_on_the_embedded_model(llama_client: TestClient) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 20}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    ask = [{"role": "user", "content": "Invent a lighthouse keeper. Answer in JSON."}]
    fmt = {"type": "json_schema", "json_schema": {"name": "keeper", "schema": schema, "strict": True}}
    reply = llama_client.post(
        "/v1/chat/completions", json={"messages": ask, "response_format": fmt, "seed": 2, "max_tokens": 60}
    )
    assert reply.status_code == 200, reply.text
    data = json.loads(reply.json()["choices"][0]["message"]["content"])
    assert set(data) == {"name", "age"} and isinstance(data["name"], str) and isinstance(data["age"], int)
    free = llama_client.post(
        "/v1/chat/completions",
        json={"messages": ask, "response_format": {"type": "json_object"}, "seed": 2, "max_tokens": 160},
    )
    content = free.json()["choices"][0]["message"]["content"]
    assert isinstance(json.loads(content), dict), content


def test_usage_reports_the_cached_prompt_tokens_and_the_text_stays_the_same(llama_client: TestClient) -> None:
    ask = [{"role": "user", "content": "Write two lines about a harbour at night, the boats and the lamps."}]
    body = {"messages": ask, "seed": 9, "max_tokens": 12}
    first, again = (llama_client.post("/v1/chat/completions", json=body).json() for _ in range(2))
    assert again["choices"][0]["message"] == first["choices"][0]["message"]
    assert again["usage"]["prompt_tokens"] == first["usage"]["prompt_tokens"]
    # the whole prompt again: llama.cpp's reuse is cut back by two tokens to keep the logits
    assert again["usage"]["prompt_tokens_details"]["cached_tokens"] == first["usage"]["prompt_tokens"] - 2


def test_the_official_client_sync_async_and_streaming(fabula_home: Path) -> None:
    from openai import AsyncOpenAI, OpenAI

    for base in serve(fabula_home, {"FABULA_ENGINE": "fake", "FABULA_MODEL": "slow"}):
        client = OpenAI(base_url=f"{base}/v1", api_key="local")
        assert client.models.retrieve("fabula-story").id == "fabula-story"
        reply = client.chat.completions.create(
            model="slow",
            messages=[{"role": "developer", "content": "Be brief."}, *HI],  # type: ignore[list-item]
            max_completion_tokens=7,
            seed=1,
        )
        assert len((reply.choices[0].message.content or "").split()) == 7
        stream = client.chat.completions.create(
            model="slow",
            messages=HI,
            max_completion_tokens=5,
            n=2,
            stream=True,  # type: ignore[arg-type]
            stream_options={"include_usage": True},
        )
        texts: dict[int, str] = {}
        usage = None
        for chunk in stream:
            for choice in chunk.choices:
                texts[choice.index] = texts.get(choice.index, "") + (choice.delta.content or "")
            usage = chunk.usage or usage
        assert sorted(texts) == [0, 1] and all(len(t.split()) == 5 for t in texts.values())
        assert usage is not None and usage.completion_tokens == 10

        async def together(base: str = base) -> list[str]:
            aclient = AsyncOpenAI(base_url=f"{base}/v1", api_key="local")
            calls = [
                aclient.chat.completions.create(model="slow", messages=HI, max_completion_tokens=4, seed=s)  # type: ignore[arg-type]
                for s in (1, 2, 3)
            ]
            replies = await asyncio.gather(*calls)
            await aclient.close()
            return [r.choices[0].message.content or "" for r in replies]

        assert [len(t.split()) for t in asyncio.run(together())] == [4, 4, 4]


def test_langchain_chat_openai_with_max_tokens_streaming_and_json(fabula_home: Path) -> None:
    """LangChain's ChatOpenAI failed whenever max_tokens was set: it sends max_completion_tokens."""
    langchain = pytest.importorskip("langchain_openai")

    for base in serve(fabula_home, {"FABULA_ENGINE": "fake", "FABULA_MODEL": "slow"}):
        chat = langchain.ChatOpenAI(base_url=f"{base}/v1", api_key="local", model="slow", max_tokens=6, seed=1)
        reply = chat.invoke([("system", "Be brief."), ("human", "Say hello.")])
        assert len(str(reply.content).split()) == 6
        streamed = "".join(str(part.content) for part in chat.stream("Say hello."))
        assert len(streamed.split()) == 6
        with_usage = langchain.ChatOpenAI(
            base_url=f"{base}/v1", api_key="local", model="slow", max_tokens=4, stream_usage=True
        )
        last = None
        for part in with_usage.stream("Say hello."):
            last = part if last is None else last + part
        assert last is not None and last.usage_metadata is not None and last.usage_metadata["output_tokens"] == 4


def test_embeddings_in_openais_shape_float_and_base64(fake_client: TestClient) -> None:
    import base64

    import numpy as np

    texts = ["The keeper trims the lamp.", "A lighthouse keeper lights the lamp.", "Stock prices fell sharply."]
    floats = fake_client.post("/v1/embeddings", json={"model": "all-minilm-l6-v2", "input": texts}).json()
    packed = fake_client.post(
        "/v1/embeddings", json={"model": "all-minilm-l6-v2", "input": texts, "encoding_format": "base64"}
    ).json()
    vectors = np.array([row["embedding"] for row in floats["data"]])
    unpacked = np.array([np.frombuffer(base64.b64decode(r["embedding"]), dtype="<f4") for r in packed["data"]])
    assert vectors.shape == (3, 384) and np.allclose(vectors, unpacked)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]  # the keepers are nearer to each other
    assert [r["index"] for r in floats["data"]] == [0, 1, 2]
    for body, param in [
        ({"model": "all-minilm-l6-v2", "input": [1, 2, 3]}, "input"),
        ({"model": "all-minilm-l6-v2", "input": "x", "dimensions": 1536}, "dimensions"),
        ({"model": "all-minilm-l6-v2", "input": "x", "encoding_format": "hex"}, "encoding_format"),
    ]:
        reply = fake_client.post("/v1/embeddings", json=body)
        assert reply.status_code == 400 and reply.json()["error"]["param"] == param
    assert fake_client.post("/v1/embeddings", json={"model": "text-embedding-3-small", "input": "x"}).status_code == 404


def test_the_official_client_and_litellm_embed(fabula_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from openai import OpenAI

    for base in serve(fabula_home, {"FABULA_ENGINE": "fake", "FABULA_MODEL": "slow"}):
        client = OpenAI(base_url=f"{base}/v1", api_key="local")
        made = client.embeddings.create(model="fabula-embed", input=["静夜思", "a quiet night"])  # base64 by default
        assert len(made.data) == 2 and len(made.data[0].embedding) == 384
        monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # litellm would fetch its price list
        with warnings.catch_warnings():  # its own pydantic models warn as it imports them, lazily
            warnings.simplefilter("ignore")
            litellm = pytest.importorskip("litellm")
            chat = litellm.completion(
                model="openai/slow", api_base=f"{base}/v1", api_key="local", messages=HI, max_tokens=5, seed=1
            )
            assert len(chat.choices[0].message.content.split()) == 5
            parts = litellm.completion(
                model="openai/slow", api_base=f"{base}/v1", api_key="local", messages=HI, max_tokens=5, stream=True
            )
            assert len("".join(p.choices[0].delta.content or "" for p in parts).split()) == 5
            vectors = litellm.embedding(
                model="openai/all-minilm-l6-v2", api_base=f"{base}/v1", api_key="local", input=["x y"]
            )
            assert len(vectors.data[0]["embedding"]) == 384


def _raw_llama_logprobs(messages: list[dict[str, str]], max_tokens: int, top: int) -> list[dict[str, Any]]:
    """The same request straight to llama.cpp (xllamacpp, no fabula in between), greedy."""
    import xllamacpp

    from fabula.models import default_model_path

    params = xllamacpp.CommonParams()
    params.model.path = str(default_model_path())
    params.n_ctx = 1024
    params.n_parallel = 1
    params.cpuparams.n_threads = 1
    params.verbosity = -1
    params.flash_attn_type = xllamacpp.llama_flash_attn_type.LLAMA_FLASH_ATTN_TYPE_DISABLED  # as the engine runs
    server = xllamacpp.Server(params)
    items: list[dict[str, Any]] = []

    def on_chunk(chunk: dict[str, Any]) -> None:
        for choice in chunk.get("choices") or []:
            items.extend((choice.get("logprobs") or {}).get("content") or [])

    body = {"messages": messages, "max_tokens": max_tokens, "temperature": 0.0, "stream": True}
    server.handle_chat_completions(body | {"logprobs": True, "top_logprobs": top, "cache_prompt": False}, on_chunk)
    return items


def test_token_alternatives_match_a_direct_llama_cpp_call(llama_client: TestClient) -> None:
    ask = [{"role": "user", "content": "Name a colour."}]
    body = {
        "messages": ask,
        "max_tokens": 8,
        "temperature": 0,
        "seed": 1,
        "repetition_penalty": 1.0,
    }  # as llama.cpp defaults
    plain = llama_client.post("/v1/chat/completions", json=body).json()["choices"][0]
    rich = llama_client.post("/v1/chat/completions", json=body | {"logprobs": True, "top_logprobs": 5}).json()[
        "choices"
    ][0]
    assert rich["message"]["content"] == plain["message"]["content"]  # asking for logprobs changes no text
    content = rich["logprobs"]["content"]
    assert len(content) >= 1 and all(len(t["top_logprobs"]) == 5 for t in content)
    assert b"".join(bytes(t["bytes"]) for t in content).decode("utf-8", "replace").strip()
    raw = _raw_llama_logprobs(ask, 8, 5)
    assert [t["token"] for t in content] == [t["token"] for t in raw]
    for ours, theirs in zip(content, raw, strict=True):
        assert ours["logprob"] == pytest.approx(theirs["logprob"], abs=1e-4)
        assert [a["token"] for a in ours["top_logprobs"]] == [a["token"] for a in theirs["top_logprobs"]]
    done = llama_client.post(
        "/v1/completions", json={"prompt": "Once upon a", "max_tokens": 6, "logprobs": 3, "seed": 1}
    )
    shaped = done.json()["choices"][0]["logprobs"]
    assert (
        len(shaped["tokens"])
        == len(shaped["token_logprobs"])
        == len(shaped["top_logprobs"])
        == len(shaped["text_offset"])
    )
    assert all(len(alts) == 3 for alts in shaped["top_logprobs"]) and shaped["text_offset"] == sorted(
        shaped["text_offset"]
    )


def test_logprobs_are_refused_where_they_cannot_be_real(fake_client: TestClient) -> None:
    for body, why in [
        ({"messages": HI, "logprobs": True}, "does not report token alternatives"),
        ({"messages": HI, "top_logprobs": 3}, "needs logprobs: true"),
        ({"messages": HI, "logprobs": True, "top_logprobs": 50}, "0 to 20"),
    ]:
        reply = fake_client.post("/v1/chat/completions", json=body)
        assert reply.status_code == 400 and why in reply.json()["error"]["message"], (body, reply.text)


def test_logit_bias_bans_and_forces_tokens_on_the_embedded_model(llama_client: TestClient) -> None:
    ask = [{"role": "user", "content": "Name a colour."}]
    body = {"messages": ask, "max_tokens": 4, "temperature": 0, "logprobs": True}
    first = llama_client.post("/v1/chat/completions", json=body).json()["choices"][0]["logprobs"]["content"][0]
    engine = app_engine(llama_client)
    banned_id = engine.tokenize(first["token"])[0]
    banned = llama_client.post("/v1/chat/completions", json=body | {"logit_bias": {str(banned_id): -100}}).json()
    assert banned["choices"][0]["logprobs"]["content"][0]["token"] != first["token"]
    zebra = engine.tokenize("Zebra")[0]
    forced = llama_client.post("/v1/chat/completions", json=body | {"logit_bias": {str(zebra): 100}}).json()
    assert forced["choices"][0]["message"]["content"].startswith("Z")  # the forced token comes first
    bad = llama_client.post("/v1/chat/completions", json=body | {"logit_bias": {"99999999": 5}})
    assert bad.status_code == 400 and "tokens" in bad.json()["error"]["message"]


def test_ignore_eos_writes_to_max_tokens_on_the_embedded_model(llama_client: TestClient) -> None:
    body = {"prompt": "The end.", "max_tokens": 40, "temperature": 0}
    natural = llama_client.post("/v1/completions", json=body | {"max_tokens": 400}).json()
    assert natural["choices"][0]["finish_reason"] == "stop"  # the model ends on its own
    forced = llama_client.post("/v1/completions", json=body | {"ignore_eos": True}).json()
    assert forced["choices"][0]["finish_reason"] == "length" and forced["usage"]["completion_tokens"] == 40


def test_the_clients_user_is_recorded_in_provenance(fake_client: TestClient) -> None:
    body = {"model": "fabula-story", "messages": [{"role": "user", "content": "a lantern"}], "user": "client-7"}
    work_id = fake_client.post("/v1/chat/completions", json=body).json()["choices"][0]["fabula"]["work_id"]
    assert fake_client.get(f"/api/works/{work_id}").json()["provenance"]["client"] == {"user": "client-7"}


FIXTURES = Path(__file__).parent / "fixtures" / "clients"


@pytest.mark.parametrize("fixture", ["sillytavern_custom_chat.json", "koboldai_lite_chat.json"])
def test_front_ends_request_bodies_are_answered_as_sent(llama_client: TestClient, fixture: str) -> None:
    """The exact bodies SillyTavern and KoboldAI Lite send (recorded from their source), replayed."""
    body = {k: v for k, v in json.loads((FIXTURES / fixture).read_text(encoding="utf-8")).items() if k != "_source"}
    body["model"] = app_engine(llama_client).model_name  # they send the id GET /v1/models offered
    body["max_tokens"] = 24
    events = chunks(llama_client, body)
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])
    assert text.strip()
    finish = [c for e in events for c in e["choices"] if c["finish_reason"]]
    assert len(finish) == 1
    if body.get("logprobs"):  # SillyTavern's token probabilities: every token, five alternatives each
        content = finish[0]["logprobs"]["content"]
        assert len(content) >= 1 and all(len(t["top_logprobs"]) == 5 for t in content)
        assert b"".join(bytes(t["bytes"]) for t in content).decode("utf-8", "replace") == text
