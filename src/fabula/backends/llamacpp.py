"""llama.cpp through the prebuilt `xllamacpp` wheel: the fast default engine on CPU.

The model is loaded once into an in-process llama.cpp server and called through its Python
handlers (no HTTP hop). That server also listens on 127.0.0.1; we lock its HTTP side with a random
API key so nothing else on the machine can use it. Chat models get their own GGUF chat template
applied by llama.cpp; GGUFs without one are prompted as plain continuations.
"""

from __future__ import annotations

import secrets
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from fabula.backends.base import Capabilities, OnText, candidate_seeds
from fabula.cancel import check as check_cancelled
from fabula.errors import BackendError, ConfigError
from fabula.models import file_sha256, resolve_gguf
from fabula.sampling import refuse_unsupported
from fabula.settings import Settings
from fabula.types import Completion, Request

ENGINE = "llamacpp"


def _token_entry(item: dict[str, Any], top: int) -> dict[str, Any]:
    """llama.cpp's per-token log-probabilities in OpenAI's shape (token, logprob, bytes, top_logprobs)."""

    def one(entry: dict[str, Any]) -> dict[str, Any]:
        return {"token": entry.get("token", ""), "logprob": float(entry["logprob"]), "bytes": entry.get("bytes")}

    return one(item) | {"top_logprobs": [one(alt) for alt in (item.get("top_logprobs") or [])[:top]]}


def _embedded_path() -> Path | None:
    from fabula.models import default_model_path

    try:
        return default_model_path()
    except ConfigError:
        return None


def gguf_facts(path: Path) -> tuple[bool, set[int], int]:
    """(has a chat template, end-of-text token ids, vocabulary size) from the GGUF's metadata,
    read with the bounds check that refuses a damaged file before llama.cpp sees it."""
    from fabula.model_files import check_gguf

    metadata = check_gguf(path).metadata
    eos = {int(metadata[k]) for k in ("tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id") if k in metadata}
    tokens = metadata.get("tokenizer.ggml.tokens")
    vocab = int(tokens[1]) if isinstance(tokens, tuple) else 1 << 17
    return "tokenizer.chat_template" in metadata, eos, vocab


LLAMACPP_EXTENDED = {"dry_multiplier", "xtc_probability"}  # native; epsilon and no-repeat n-gram are not


def sampling_fields(request: Request, seed: int | None) -> dict[str, Any]:
    """SamplingParams as llama.cpp server request fields; a control it lacks is an error."""
    p = request.params
    refuse_unsupported(p, LLAMACPP_EXTENDED, "the llamacpp engine", hint="use the hf engine, or leave it off")
    body: dict[str, Any] = {
        "max_tokens": p.max_tokens,
        "temperature": p.temperature,
        "top_k": p.top_k,
        "top_p": p.top_p,
        "min_p": p.min_p,
        "typical_p": p.typical_p,
        "repeat_penalty": p.repetition_penalty,
        "presence_penalty": p.presence_penalty,
        "frequency_penalty": p.frequency_penalty,
        "stop": list(p.stop),
        "logprobs": True,
        "top_logprobs": max(1, request.top_logprobs),
        "dry_multiplier": p.dry_multiplier,
        "dry_base": p.dry_base,
        "dry_allowed_length": p.dry_allowed_length,
        "xtc_probability": p.xtc_probability,
        "xtc_threshold": p.xtc_threshold,
        # Reusing a cached prompt re-evaluates its last token alone, whose logits differ in the
        # last bits from a batched prefill: the same seed would then give another text. A cold
        # prefill costs ~0.1 s for a form prompt and makes every candidate reproducible alone
        # (FABULA_LLAMACPP_CACHE_PROMPT=true trades that for speed on the plain completion path).
        "cache_prompt": False,
    }
    if seed is not None:
        body["seed"] = seed
    if request.json_schema is not None:
        body["json_schema"] = dict(request.json_schema)  # compiled by llama.cpp to a grammar
    if request.logit_bias:
        body["logit_bias"] = [[int(token), float(bias)] for token, bias in request.logit_bias.items()]
    if request.ignore_eos:
        body["ignore_eos"] = True
    return body


class LlamaCppBackend:
    name = ENGINE

    def __init__(self, model: str, settings: Settings) -> None:
        try:
            import xllamacpp
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise ConfigError("the llamacpp engine needs `pip install fabula[llamacpp]`") from exc
        self.path = resolve_gguf(model, settings.home)
        self.settings = settings
        if self.path == _embedded_path():
            from fabula.model_files import check_packaged
            from fabula.models import DEFAULT_MODEL_DIST

            check_packaged(self.path, DEFAULT_MODEL_DIST, settings.home / "cache")
        else:
            from fabula.model_files import check_catalogued

            check_catalogued(self.path, settings.home)
        self.model_name = self.path.name
        self._chat, self.eos_ids, self.vocab_size = gguf_facts(self.path)
        self.capabilities = Capabilities(
            steerable=False,
            streaming=True,
            logprobs=True,
            chat_template=self._chat,
            steppable=True,
            json_schema=True,
            top_logprobs=True,
            logit_bias=True,
            ignore_eos=True,
        )
        params = xllamacpp.CommonParams()
        params.model.path = str(self.path)
        params.n_ctx = settings.n_ctx
        params.n_parallel = 1
        params.cpuparams.n_threads = settings.engine_threads()
        params.cpuparams_batch.n_threads = settings.engine_threads()
        params.verbosity = -1
        # llama.cpp's server keeps old prompts' states in host RAM, up to 8 GiB by default: a long
        # live chat grew by 40 MiB per 100 messages. Without prompt caching it is of no use; with
        # it, 256 MiB is plenty for one slot.
        params.cache_ram_mib = 256 if settings.llamacpp_cache_prompt else 0
        self._api_key = secrets.token_hex(16)
        params.api_keys = [self._api_key]
        try:
            self._server = xllamacpp.Server(params)
        except Exception as exc:
            raise BackendError(f"could not load {self.path}: {exc}", engine=ENGINE) from exc
        self._lock = threading.Lock()
        self._hash: str | None = None

    def model_info(self) -> dict[str, object]:
        if self._hash is None:
            self._hash = file_sha256(self.path, self.settings.home / "cache")
        return {"name": self.model_name, "path": str(self.path), "sha256": self._hash}

    def complete(self, request: Request, on_text: OnText | None = None) -> list[Completion]:
        results = []
        for index, seed in enumerate(candidate_seeds(request.params.seed, request.params.n)):
            results.append(self._one(request, seed, index, on_text))
        return results

    def _one(self, request: Request, seed: int | None, index: int, on_text: OnText | None) -> Completion:
        body = sampling_fields(request, seed)
        body["cache_prompt"] = self.settings.llamacpp_cache_prompt
        body["stream"] = True
        chat = self._chat and not request.raw
        if chat:
            body["messages"] = request.chat_dicts()
            handler = self._server.handle_chat_completions
        else:
            body["prompt"] = request.completion_prompt
            # the completions endpoint reads `logprobs` as the number of alternatives (OpenAI's
            # legacy field): `true` there meant one, whatever `top_logprobs` asked for
            body["logprobs"] = max(1, request.top_logprobs)
            handler = self._server.handle_completions
        pieces: list[str] = []
        logprobs: list[float] = []
        tokens: list[dict[str, Any]] = []
        state: dict[str, Any] = {"finish": "length", "first": None, "usage": {}, "error": None, "raised": None}
        start = time.perf_counter()

        def on_chunk(chunk: dict[str, Any]) -> bool | None:
            # llama.cpp calls this from C++, which swallows exceptions: catch everything here
            # (Ctrl-C, a closed pipe, a failing on_text), stop generating, and re-raise below.
            try:
                return consume(chunk)
            except BaseException as exc:  # noqa: BLE001 - re-raised after the handler returns
                state["raised"] = exc
                return True

        def consume(chunk: dict[str, Any]) -> bool | None:
            check_cancelled()  # a request nobody waits for any more stops at its next token
            if "error" in chunk:
                state["error"] = chunk["error"]
                return True
            choice = (chunk.get("choices") or [{}])[0]
            delta = choice.get("delta", {}).get("content") if chat else choice.get("text")
            for item in (choice.get("logprobs") or {}).get("content") or []:
                logprobs.append(float(item["logprob"]))
                if request.top_logprobs:
                    tokens.append(_token_entry(item, request.top_logprobs))
            if delta:
                if state["first"] is None:
                    state["first"] = time.perf_counter() - start
                pieces.append(delta)
                if on_text is not None:
                    on_text(index, delta)
            if choice.get("finish_reason"):
                state["finish"] = choice["finish_reason"]
            if "timings" in chunk:
                state["usage"] = chunk["timings"]
            return None

        with self._lock:
            try:
                reply = handler(body, on_chunk)
            except ValueError as exc:  # llama.cpp rejects a request it cannot parse (e.g. a schema)
                raise BackendError(f"llama.cpp refused the request: {exc}", engine=ENGINE) from exc
        if state["raised"] is not None:
            raise state["raised"]
        error = state["error"] or (reply.get("error") if isinstance(reply, dict) else None)
        if error:
            message = error.get("message", error) if isinstance(error, dict) else error
            raise BackendError(f"llama.cpp refused the request: {message}", engine=ENGINE)
        usage = state["usage"]
        return Completion(
            text="".join(pieces),
            finish_reason="length" if state["finish"] == "length" else "stop",
            seed=seed,
            prompt_tokens=int(usage.get("prompt_n", 0)) + int(usage.get("cache_n", 0)),
            completion_tokens=int(usage.get("predicted_n", len(logprobs))),
            token_logprobs=tuple(logprobs) or None,
            tokens=tuple(tokens) if request.top_logprobs else None,
            first_token_s=state["first"],
            total_s=time.perf_counter() - start,
            prompt_mode="chat" if chat else "completion",
        )

    def prompt_ids(self, request: Request) -> list[int]:
        """The prompt as token ids, chat template applied, through the server's own endpoints."""
        text = request.completion_prompt
        if self._chat:
            text = self._post("/apply-template", {"messages": request.chat_dicts()})["prompt"]
        return self.tokenize(text, add_special=True)

    def tokenize(self, text: str, add_special: bool = False) -> list[int]:
        """Token ids as the engine reads `text`, special-token markers parsed (as in a prompt)."""
        reply = self._post("/tokenize", {"content": text, "add_special": add_special, "parse_special": True})
        return [int(t) for t in reply["tokens"]]

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        headers = {"Authorization": f"Bearer {self._api_key}"}
        try:
            with httpx.Client(base_url=self._server.listening_address, headers=headers, timeout=30) as client:
                reply = client.post(path, json=body)
                reply.raise_for_status()
                return reply.json()
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise BackendError(f"could not tokenize the prompt: {exc}", engine=ENGINE) from exc

    def stepper(self, request: Request) -> LlamaCppStepper:
        """A one-token-at-a-time view of this model, for constrained decoding."""
        return LlamaCppStepper(self, self.prompt_ids(request))

    def close(self) -> None:
        """Free the model. llama.cpp's server is destroyed on a thread of its own: its destructor
        joins its workers, and once in a long test run it never returned; waiting at most 10 s
        keeps a stuck shutdown from stopping the process."""
        holder = [self._server]
        self._server = None
        closer = threading.Thread(target=holder.clear, name="fabula-llamacpp-close", daemon=True)
        closer.start()
        closer.join(timeout=10)


class LlamaCppStepper:
    """Steps llama.cpp one token per call: the prompt grows by the chosen id and llama.cpp keeps
    the KV cache, so each step costs one token's decode (about 100 steps/s on 2 cores). The first
    step prefills cold, as `complete` does, so a candidate is reproducible on its own."""

    def __init__(self, backend: LlamaCppBackend, prompt: list[int]) -> None:
        self.backend = backend
        self.ids = list(prompt)
        self._prompt_length = len(prompt)
        self.eos_ids = backend.eos_ids
        self._first = True
        self._top: list[tuple[int, str | None, float]] = []

    def top(self, k: int) -> list[tuple[int, str | None, float]]:
        k = min(k, self.backend.vocab_size)
        if len(self._top) >= k:
            return self._top[:k]
        body = {"prompt": self.ids, "max_tokens": 1, "n_probs": k, "temperature": 0, "cache_prompt": not self._first}
        with self.backend._lock:
            reply = self.backend._server.handle_completions(body)
        if "error" in reply:
            raise BackendError(f"llama.cpp refused a step: {reply['error']}", engine=ENGINE)
        self._first = False
        items = reply["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
        self._top = [(int(i["id"]), _decode(i.get("bytes")), float(i["logprob"])) for i in items]
        return self._top

    def push(self, token_id: int) -> None:
        self.ids.append(token_id)
        self._top = []

    def rewind(self, length: int) -> None:
        del self.ids[self._prompt_length + length :]
        self._top = []


def _decode(raw: list[int] | None) -> str | None:
    try:
        return bytes(raw or []).decode("utf-8") or None
    except UnicodeDecodeError:
        return None
