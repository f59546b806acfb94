"""llama.cpp through the prebuilt `xllamacpp` wheel: the fast default engine on CPU.

The model is loaded once into an in-process llama.cpp server and called through its Python
handlers (no HTTP hop). That server also listens on 127.0.0.1; we lock its HTTP side with a random
API key so nothing else on the machine can use it. Chat models get their own GGUF chat template
applied by llama.cpp; GGUFs without one are prompted as plain continuations.

The server has `FABULA_LLAMACPP_SLOTS` slots: a request's candidates are one llama.cpp request of
`n` (one prefill, every decode step shared), and requests from several threads (the HTTP server's)
are decoded in the same batches. Each candidate stays the text its seed gives alone, because each
slot has its own KV stream and flash attention is off (see `__init__`). A prompt that shares a
long prefix with one a slot still holds skips that prefix's prefill, under the rules that keep
every logit of a cold prefill (`prompt_reuse.py`).
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import secrets
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from fabula.backends.base import Capabilities, OnText, candidate_seeds
from fabula.backends.prompt_reuse import Plan, SlotPool, clean_prefix
from fabula.cancel import check as check_cancelled
from fabula.errors import BackendError, ConfigError
from fabula.models import file_sha256, resolve_gguf
from fabula.sampling import refuse_unsupported
from fabula.settings import Settings
from fabula.types import Completion, Request

ENGINE = "llamacpp"
LOG = logging.getLogger(__name__)


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
        # a cold prefill unless the engine plans a reuse that keeps the logits (prompt_reuse.py)
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


def seed_groups(seeds: list[int | None], size: int) -> list[tuple[int, list[int | None]]]:
    """(index of the first candidate, its seeds) for runs of at most `size` candidates whose seeds
    llama.cpp's `n` reproduces: consecutive integers (it adds k to the first seed), or all random."""
    groups: list[tuple[int, list[int | None]]] = []
    for index, seed in enumerate(seeds):
        if groups:
            group = groups[-1][1]
            last = group[-1]
            follows = (seed is None and last is None) or (seed is not None and last is not None and seed == last + 1)
            if follows and len(group) < size:
                group.append(seed)
                continue
        groups.append((index, [seed]))
    return groups


class _ChoiceStream:
    """One candidate's share of a streamed llama.cpp reply: chunks are indexed by choice."""

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.logprobs: list[float] = []
        self.tokens: list[dict[str, Any]] = []
        self.finish = "length"
        self.first: float | None = None
        self.last = 0.0
        self.usage: dict[str, Any] = {}

    def take(self, choice: dict[str, Any], chunk: dict[str, Any], delta: str | None, top: int, at: float) -> bool:
        """Record one chunk; True when it carried text to pass on."""
        for item in (choice.get("logprobs") or {}).get("content") or []:
            self.logprobs.append(float(item["logprob"]))
            if top:
                self.tokens.append(_token_entry(item, top))
        if choice.get("finish_reason"):
            self.finish = choice["finish_reason"]
        if "timings" in chunk:
            self.usage = chunk["timings"]
        self.last = at
        if not delta:
            return False
        if self.first is None:
            self.first = at
        self.pieces.append(delta)
        return True

    def completion(self, seed: int | None, top: int, mode: Literal["chat", "completion"]) -> Completion:
        usage = self.usage
        return Completion(
            text="".join(self.pieces),
            finish_reason="length" if self.finish == "length" else "stop",
            seed=seed,
            prompt_tokens=int(usage.get("prompt_n", 0)) + int(usage.get("cache_n", 0)),
            cached_tokens=int(usage.get("cache_n", 0)),
            completion_tokens=int(usage.get("predicted_n", len(self.logprobs))),
            token_logprobs=tuple(self.logprobs) or None,
            tokens=tuple(self.tokens) if top else None,
            first_token_s=self.first,
            total_s=self.last,
            prompt_mode=mode,
        )


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
        threads = settings.engine_threads()
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
            # stepped candidates side by side only where a core is left for their Python between
            # steps: with every core decoding, 4 haiku took 1.17x and 4 sonnets 1.01x of one by one
            parallel=settings.llamacpp_slots if (os.cpu_count() or 1) > threads else 1,
        )
        params = xllamacpp.CommonParams()
        params.model.path = str(self.path)
        # every slot gets its own KV stream of n_ctx cells (kv_unified off): a sequence's attention
        # then reads the same cells in the same order whether it runs alone or beside others
        self.slots = settings.llamacpp_slots
        params.n_ctx = settings.n_ctx * self.slots
        params.n_parallel = self.slots
        self.slot_pool = SlotPool(self.slots, ubatch=params.n_ubatch)
        self.reuse_prompts = settings.llamacpp_cache_prompt
        params.kv_unified = False
        # flash attention reads as many KV cells as the longest sequence in the batch needs, padded
        # to 256: a sequence beside a longer one then sums its attention over another span and its
        # logits change in the last bits (tested); the plain kernels give the same bits either way
        params.flash_attn_type = (
            xllamacpp.llama_flash_attn_type.LLAMA_FLASH_ATTN_TYPE_ENABLED
            if settings.llamacpp_flash_attention
            else xllamacpp.llama_flash_attn_type.LLAMA_FLASH_ATTN_TYPE_DISABLED
        )
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        params.verbosity = -1
        # llama.cpp's server keeps old prompts' states in host RAM (up to 8 GiB by default: a long
        # live chat grew by 40 MiB per 100 messages) and loads one into a slot when it matches a
        # new prompt better. Off: what a slot holds is then what SlotPool recorded there.
        params.cache_ram_mib = 0
        # every request names its slot; a request's extra candidates go where llama.cpp puts them
        # (with this setting, measured: the lowest-numbered idle slots, cleared after), which
        # SlotPool holds for them; never chosen by the prefix they share with a cache worth keeping
        params.slot_prompt_similarity = 0.0
        self._api_key = secrets.token_hex(16)
        params.api_keys = [self._api_key]
        # one kept HTTP connection per thread to the server's own endpoints, all closed with the engine
        self._connections = threading.local()
        self._opened: list[http.client.HTTPConnection] = []
        weakref.finalize(self, _close_all, self._opened)
        try:
            self._server = xllamacpp.Server(params)
        except Exception as exc:
            raise BackendError(f"could not load {self.path}: {exc}", engine=ENGINE) from exc
        self._hash: str | None = None

    def model_info(self) -> dict[str, object]:
        if self._hash is None:
            self._hash = file_sha256(self.path, self.settings.home / "cache")
        return {"name": self.model_name, "path": str(self.path), "sha256": self._hash}

    def complete(self, request: Request, on_text: OnText | None = None) -> list[Completion]:
        """The request's candidates, up to `slots` of them decoded together in one llama.cpp request.

        llama.cpp's `n` prefills the prompt once, copies its KV cache to the other slots and seeds
        the copies seed+1, seed+2, ...: the seeds `candidate_seeds` gives, so candidate i is the
        text that seed+i gives alone (tested). Seeds that wrap, or more candidates than slots, go
        in several such groups, one after another."""
        seeds = candidate_seeds(request.params.seed, request.params.n)
        results: list[Completion] = []
        for first, group in seed_groups(seeds, self.slots):
            results.extend(self._group(request, group, first, on_text))
        return results

    def _group(self, request: Request, seeds: list[int | None], first: int, on_text: OnText | None) -> list[Completion]:
        """One llama.cpp request for these seeds, on a slot held for its whole run: the free slot
        whose cache offers the prompt the longest prefix that keeps the logits (prompt_reuse.py)."""
        # tokenized only where a reuse could follow: beside other requests it would be refused
        ids = self.prompt_ids(request) if self.reuse_prompts and self.slot_pool.idle() else None
        plan = self.slot_pool.take(ids, extra=len(seeds) - 1)
        record: list[int] = []
        try:
            with self.slot_pool.prefill(plan) as prefilled:
                if plan.cut:
                    self._cut_back(plan, ids or [])
                completions = self._run(request, seeds, first, on_text, plan, prefilled)
            if ids is not None:
                head = completions[0]
                record = self._checked_record(plan, ids, head.cached_tokens, head.prompt_tokens)
            return completions
        finally:
            self.slot_pool.give(plan, record)

    def _cut_back(self, plan: Plan, ids: list[int]) -> None:
        """Make the slot hold exactly `ids[:plan.reuse]` (and one token more): a request that
        shares just that much and evaluates one other token, generating nothing."""
        other = 0 if ids[plan.reuse] != 0 else 1
        body = {"prompt": ids[: plan.reuse] + [other], "max_tokens": 0, "cache_prompt": True, "id_slot": plan.slot}
        reply = self._server.handle_completions(body)
        if isinstance(reply, dict) and "error" in reply:
            raise BackendError(f"llama.cpp refused a request: {reply['error']}", engine=ENGINE)

    def _checked_record(self, plan: Plan, ids: list[int], reused: int, total: int) -> list[int]:
        """What the slot may offer the next prompt, if llama.cpp reused `reused` of `total` prompt
        tokens as planned; where it did not (the slot was another request's extra candidate
        meanwhile, or the chat template tokenized otherwise), nothing, and a cold prefill next time."""
        if total == len(ids) and reused == plan.reuse:
            return clean_prefix(ids, self.slot_pool.ubatch)
        if reused > 0:
            LOG.warning(
                "llama.cpp reused %d prompt tokens of %d where %d were planned; this text may differ in its last "
                "bits from a cold run of the same seed",
                reused,
                len(ids),
                plan.reuse,
            )
        return []

    def _run(
        self,
        request: Request,
        seeds: list[int | None],
        first: int,
        on_text: OnText | None,
        plan: Plan,
        prefilled: Callable[[], None],
    ) -> list[Completion]:
        body = sampling_fields(request, seeds[0])
        body["cache_prompt"] = plan.reuse > 0
        body["id_slot"] = plan.slot
        body["stream"] = True
        if len(seeds) > 1:
            body["n"] = len(seeds)
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
        streams = [_ChoiceStream() for _ in seeds]
        state: dict[str, Any] = {"error": None, "raised": None}
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
            prefilled()  # the prompt is in: other requests may start
            check_cancelled()  # a request nobody waits for any more stops at its next token
            if "error" in chunk:
                state["error"] = chunk["error"]
                return True
            choice = (chunk.get("choices") or [{}])[0]
            index = int(choice.get("index") or 0)
            delta = choice.get("delta", {}).get("content") if chat else choice.get("text")
            if streams[index].take(choice, chunk, delta, request.top_logprobs, time.perf_counter() - start):
                if on_text is not None:
                    on_text(first + index, delta)
            return None

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
        mode: Literal["chat", "completion"] = "chat" if chat else "completion"
        pairs = zip(streams, seeds, strict=True)
        return [stream.completion(seed, request.top_logprobs, mode) for stream, seed in pairs]

    def prompt_ids(self, request: Request) -> list[int]:
        """The prompt as token ids, chat template applied, through the server's own endpoints."""
        text = request.completion_prompt
        if self._chat and not request.raw:
            text = self._post("/apply-template", {"messages": request.chat_dicts()})["prompt"]
        return self.tokenize(text, add_special=True)

    def tokenize(self, text: str, add_special: bool = False) -> list[int]:
        """Token ids as the engine reads `text`, special-token markers parsed (as in a prompt)."""
        reply = self._post("/tokenize", {"content": text, "add_special": add_special, "parse_special": True})
        return [int(t) for t in reply["tokens"]]

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        """POST to the server's own endpoints over this thread's kept connection: opening a
        client per call (httpx) cost 20-40 ms, more than the tokenizing it asked for."""
        headers = {"Authorization": f"Bearer {self._api_key}", "Content-Type": "application/json"}
        data = json.dumps(body)
        for attempt in (1, 2):  # a kept connection the server has closed fails once, then reopens
            connection = getattr(self._connections, "open", None)
            if connection is None:
                address = urlsplit(self._server.listening_address)
                connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=30)
                self._connections.open = connection
                self._opened.append(connection)
            try:
                connection.request("POST", path, data, headers)
                reply = connection.getresponse()
                payload = reply.read()
                if reply.status != 200:
                    raise BackendError(
                        f"llama.cpp answered {path} with {reply.status}: {payload[:200]!r}", engine=ENGINE
                    )
                return json.loads(payload)
            except (OSError, http.client.HTTPException, ValueError) as exc:
                connection.close()
                self._connections.open = None
                if attempt == 2:
                    raise BackendError(f"could not tokenize the prompt: {exc}", engine=ENGINE) from exc
        raise AssertionError("unreachable")

    def stepper(self, request: Request) -> LlamaCppStepper:
        """A one-token-at-a-time view of this model, for constrained decoding."""
        return LlamaCppStepper(self, self.prompt_ids(request))

    def close(self) -> None:
        """Free the model. llama.cpp's server is destroyed on a thread of its own: its destructor
        joins its workers, and once in a long test run it never returned; waiting at most 10 s
        keeps a stuck shutdown from stopping the process."""
        _close_all(self._opened)
        holder = [self._server]
        self._server = None
        closer = threading.Thread(target=holder.clear, name="fabula-llamacpp-close", daemon=True)
        closer.start()
        closer.join(timeout=10)


class LlamaCppStepper:
    """Steps llama.cpp one token per call: the prompt grows by the chosen id and llama.cpp keeps
    the KV cache, so each step costs one token's decode (about 100 steps/s on 2 cores). The first
    step evaluates the prompt as `complete` does (cold, or from a prefix that keeps the logits), so
    a candidate is reproducible on its own. Steppers on several threads are decoded in the same
    engine passes, each on the slot it holds (`SlotPool`), given back when the stepper is dropped
    with its prompt on offer to the next one (the next candidate of the same poem)."""

    def __init__(self, backend: LlamaCppBackend, prompt: list[int]) -> None:
        self.backend = backend
        self._plan = backend.slot_pool.take(prompt if backend.reuse_prompts else None)
        self.slot = self._plan.slot
        self._record: list[int] = []  # filled once the first step has checked what it reused
        weakref.finalize(self, backend.slot_pool.give, self._plan, self._record)
        self.ids = list(prompt)
        self._prompt_length = len(prompt)
        self.eos_ids = backend.eos_ids
        self._first = True
        self._top: list[tuple[int, str | None, float]] = []

    def top(self, k: int) -> list[tuple[int, str | None, float]]:
        k = min(k, self.backend.vocab_size)
        if len(self._top) >= k:
            return self._top[:k]
        body = {
            "prompt": self.ids,
            "max_tokens": 1,
            "n_probs": k,
            "temperature": 0,
            "cache_prompt": self._plan.reuse > 0 or not self._first,
            "id_slot": self.slot,
        }
        if self._first:
            with self.backend.slot_pool.prefill(self._plan):
                if self._plan.cut:
                    self.backend._cut_back(self._plan, self.ids)
                reply = self.backend._server.handle_completions(body)
        else:
            reply = self.backend._server.handle_completions(body)
        if "error" in reply:
            raise BackendError(f"llama.cpp refused a step: {reply['error']}", engine=ENGINE)
        if self._first and self.backend.reuse_prompts:
            timings = reply.get("timings") or {}
            prompt = self.ids[: self._prompt_length]
            cached, evaluated = int(timings.get("cache_n", -1)), int(timings.get("prompt_n", -1))
            self._record[:] = self.backend._checked_record(self._plan, prompt, cached, cached + evaluated)
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


def _close_all(connections: list[http.client.HTTPConnection]) -> None:
    """Close them, keeping the list: a connection used again reopens, and is closed again later."""
    for connection in connections:
        connection.close()


def _decode(raw: list[int] | None) -> str | None:
    try:
        return bytes(raw or []).decode("utf-8") or None
    except UnicodeDecodeError:
        return None
