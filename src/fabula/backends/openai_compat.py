"""Any OpenAI-compatible server (vLLM, llama.cpp server, Ollama, ...) over HTTP: a black-box engine.

SamplingParams become request fields. The standard ones (temperature, top_p, max_tokens, seed,
stop, presence/frequency penalty) go as they are. The others are extensions whose names differ by
server, so the `openai_dialect` setting says which server it is: `llamacpp` (top_k, min_p,
typical_p, repeat_penalty), `vllm` (top_k, min_p, repetition_penalty; no typical_p) or `openai`
(none: also right for Ollama's /v1). A non-neutral value the dialect cannot carry is an error,
never silently dropped.
HTTP failures become BackendError with `retryable` set for connection errors, timeouts, 408, 429
and 5xx; retryable failures before the first streamed token are retried with backoff.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from fabula.backends.base import Capabilities, OnText, candidate_seeds
from fabula.cancel import check as check_cancelled
from fabula.errors import BackendError, InvalidParam
from fabula.settings import Settings
from fabula.types import Completion, Request

ENGINE = "openai"
RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
NEUTRAL = {
    "top_k": 0,
    "min_p": 0.0,
    "typical_p": 1.0,
    "repetition_penalty": 1.0,
    "epsilon": 0.0,
    "no_repeat_ngram": 0,
    "dry_multiplier": 0.0,
    "xtc_probability": 0.0,
}
# our parameter name -> the server's field name, per dialect
DIALECTS: dict[str, dict[str, str]] = {
    "llamacpp": {
        "top_k": "top_k",
        "min_p": "min_p",
        "typical_p": "typical_p",
        "repetition_penalty": "repeat_penalty",
        "dry_multiplier": "dry_multiplier",
        "xtc_probability": "xtc_probability",
    },
    "vllm": {"top_k": "top_k", "min_p": "min_p", "repetition_penalty": "repetition_penalty"},
    "openai": {},
}


def request_body(request: Request, model: str, seed: int | None, dialect: str) -> dict[str, Any]:
    p = request.params
    body: dict[str, Any] = {
        "model": model,
        "messages": request.chat_dicts(),
        "max_tokens": p.max_tokens,
        "temperature": p.temperature,
        "top_p": p.top_p,
        "presence_penalty": p.presence_penalty,
        "frequency_penalty": p.frequency_penalty,
        "stream": True,
        "logprobs": True,
    }
    if p.stop:
        body["stop"] = list(p.stop)
    if dialect == "llamacpp":
        # llama.cpp server: a cached prompt changes the last bits of the first logits, so the
        # same seed could give another text.
        body["cache_prompt"] = False
    if seed is not None:
        body["seed"] = seed
    if request.logit_bias:
        body["logit_bias"] = {str(token): float(bias) for token, bias in request.logit_bias.items()}
    if request.json_schema is not None:
        schema = dict(request.json_schema)
        if dialect == "llamacpp":
            body["json_schema"] = schema
        elif dialect == "vllm":
            body["guided_json"] = schema
        else:
            body["response_format"] = {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}
    fields = DIALECTS[dialect]
    if "dry_multiplier" in fields and p.dry_multiplier:
        body.update(dry_base=p.dry_base, dry_allowed_length=p.dry_allowed_length)
    if "xtc_probability" in fields and p.xtc_probability:
        body["xtc_threshold"] = p.xtc_threshold
    for name, neutral in NEUTRAL.items():
        value = getattr(p, name)
        if name in fields:
            body[fields[name]] = value
        elif value != neutral:
            raise InvalidParam(
                name,
                value,
                f"an OpenAI-compatible server of dialect {dialect!r} cannot honour it",
                hint=f"set {name} to {neutral}, or FABULA_OPENAI_DIALECT to a server that supports it",
            )
    return body


def _error_from_response(response: httpx.Response) -> BackendError:
    try:
        detail = response.json().get("error", {})
        message = detail.get("message", "") if isinstance(detail, dict) else str(detail)
    except (ValueError, AttributeError):
        message = response.text[:300]
    status = response.status_code
    hint = {401: " (check FABULA_OPENAI_API_KEY)", 404: " (check the base URL and model name)"}
    return BackendError(
        f"server answered HTTP {status}: {message}{hint.get(status, '')}",
        retryable=status in RETRYABLE_STATUS,
        engine=ENGINE,
    )


class OpenAIBackend:
    name = ENGINE
    capabilities = Capabilities(
        steerable=False, streaming=True, logprobs=True, chat_template=True, json_schema=True, logit_bias=True
    )

    def __init__(self, model: str, settings: Settings, retries: int = 2) -> None:
        self.settings = settings
        self.base_url = settings.openai_base_url.rstrip("/")
        self.model_name = model or "default"
        self.retries = retries
        self.logprobs = True  # until the server says it cannot give them (then ranking goes without)
        headers = {"Authorization": f"Bearer {settings.openai_api_key}"} if settings.openai_api_key else {}
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(settings.openai_timeout_s, connect=10.0),
        )

    def model_info(self) -> dict[str, object]:
        return {"name": self.model_name, "path": self.base_url, "sha256": None}

    def complete(self, request: Request, on_text: OnText | None = None) -> list[Completion]:
        out = []
        for index, seed in enumerate(candidate_seeds(request.params.seed, request.params.n)):
            body = request_body(request, self.model_name, seed, self.settings.openai_dialect)
            if not self.logprobs:
                body.pop("logprobs")
            out.append(self._with_retries(body, seed, index, on_text))
        return out

    def _with_retries(self, body: dict[str, Any], seed: int | None, index: int, on_text: OnText | None) -> Completion:
        for attempt in range(self.retries + 1):
            streamed: list[str] = []
            try:
                return self._stream(body, seed, index, on_text, streamed)
            except BackendError as exc:
                if not streamed and "logprobs" in str(exc) and body.pop("logprobs", None) is not None:
                    self.logprobs = False  # a server without logprobs: ask without them from now on
                    return self._stream(body, seed, index, on_text, streamed)
                if not exc.retryable or streamed or attempt == self.retries:
                    raise
                time.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")

    def _stream(
        self, body: dict[str, Any], seed: int | None, index: int, on_text: OnText | None, pieces: list[str]
    ) -> Completion:
        start = time.perf_counter()
        first: float | None = None
        finish = "length"
        logprobs: list[float] = []
        usage: dict[str, Any] = {}
        try:
            with self._client.stream("POST", "/chat/completions", json=body) as response:
                if response.status_code != 200:
                    response.read()
                    raise _error_from_response(response)
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    check_cancelled()
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    chunk = json.loads(data)
                    if "error" in chunk:
                        raise BackendError(f"server error mid-stream: {chunk['error']}", engine=ENGINE)
                    usage = chunk.get("usage") or usage
                    choice = (chunk.get("choices") or [{}])[0]
                    delta = (choice.get("delta") or {}).get("content")
                    for item in (choice.get("logprobs") or {}).get("content") or []:
                        logprobs.append(float(item["logprob"]))
                    if delta:
                        if first is None:
                            first = time.perf_counter() - start
                        pieces.append(delta)
                        if on_text:
                            on_text(index, delta)
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
        except httpx.TimeoutException as exc:
            raise BackendError(f"timed out talking to {self.base_url}: {exc}", retryable=True, engine=ENGINE) from exc
        except httpx.TransportError as exc:
            raise BackendError(
                f"cannot reach {self.base_url}: {exc} (is the server running?)", retryable=True, engine=ENGINE
            ) from exc
        except json.JSONDecodeError as exc:
            raise BackendError(f"server sent invalid JSON in its stream: {exc}", engine=ENGINE) from exc
        return Completion(
            text="".join(pieces),
            finish_reason="length" if finish == "length" else "stop",
            seed=seed,
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", len(logprobs))),
            token_logprobs=tuple(logprobs) or None,
            first_token_s=first,
            total_s=time.perf_counter() - start,
        )

    def complete_once(self, request: Request) -> Completion:
        """A non-streaming call (one candidate), for servers or proxies that buffer streams."""
        seed = candidate_seeds(request.params.seed, 1)[0]
        body = request_body(request, self.model_name, seed, self.settings.openai_dialect)
        body["stream"] = False
        start = time.perf_counter()
        try:
            response = self._client.post("/chat/completions", json=body)
        except httpx.TransportError as exc:
            raise BackendError(f"cannot reach {self.base_url}: {exc}", retryable=True, engine=ENGINE) from exc
        if response.status_code != 200:
            raise _error_from_response(response)
        data = response.json()
        choice = data["choices"][0]
        usage = data.get("usage") or {}
        items = (choice.get("logprobs") or {}).get("content") or []
        return Completion(
            text=choice["message"]["content"] or "",
            finish_reason="length" if choice.get("finish_reason") == "length" else "stop",
            seed=seed,
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            token_logprobs=tuple(float(i["logprob"]) for i in items) or None,
            total_s=time.perf_counter() - start,
        )

    def close(self) -> None:
        self._client.close()
