"""Hugging Face Transformers + torch: the steerable engine.

We run our own decode loop instead of `generate` so that every step's logits pass through our
processors (fabula.decoding) and extra processors a caller adds (form constraints, watermarks),
each candidate row samples from its own seeded generator (candidate i is reproducible alone), and
streaming, stop strings and token log-probabilities come out of one place.

Models: a local Hugging Face directory (GPT-2 style or any causal LM), or a GGUF file, which
Transformers dequantizes; the result is cached as safetensors under FABULA_HOME/converted so the
slow conversion happens once.
"""

from __future__ import annotations

import inspect
import os
import shutil
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fabula.backends.base import Capabilities, OnText, candidate_seeds
from fabula.cancel import check as check_cancelled
from fabula.errors import BackendError, ConfigError, InvalidParam
from fabula.models import file_sha256, resolve_gguf
from fabula.settings import Settings
from fabula.types import Completion, Request

if TYPE_CHECKING:
    import torch

    from fabula.decoding.processors import LogitsProcessor

ENGINE = "hf"


def convert_gguf(gguf: Path, cache_root: Path) -> Path:
    """Dequantize a GGUF into a Transformers checkpoint once; later loads read the cache."""
    digest = file_sha256(gguf, cache_root)
    target = cache_root / "converted" / f"{gguf.stem}-{digest[:12]}"
    if (target / "config.json").is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The dequantized model refuses save_pretrained; rebuild from config and copy the weights.
    model = AutoModelForCausalLM.from_config(loaded.config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    os.replace(tmp, target)
    return target


def resolve_hf_model(model: str, settings: Settings) -> tuple[Path, Path | None]:
    """(directory to load, original GGUF if converted) for `--model` on the hf engine."""
    path = Path(model).expanduser() if model else None
    if path is not None and path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(f"{model!r} has no config.json; it is not a Hugging Face model folder")
        return path, None
    gguf = resolve_gguf(model, settings.home)
    return convert_gguf(gguf, settings.ensure_home() / "cache"), gguf


def apply_adapter(model: Any, adapter: Path) -> Any:
    """Load a PEFT LoRA adapter onto `model` and merge it: decoding then costs what the base costs."""
    if not (adapter / "adapter_config.json").is_file():
        raise ConfigError(f"--adapter {adapter}: no adapter_config.json there (a PEFT adapter folder is expected)")
    try:
        from peft import PeftModel
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ConfigError("--adapter needs PEFT: pip install 'fabula[train]'") from exc
    try:
        merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    except (ValueError, RuntimeError, KeyError) as exc:
        raise ConfigError(f"--adapter {adapter} does not fit this model: {str(exc)[:300]}") from exc
    return merged.eval()


class HFBackend:
    name = ENGINE
    # a request longer than the context is an error, unless the engine's models are known to have
    # short contexts (our GPTs): then generation stops at the context's end
    stop_at_context = False

    def __init__(self, model: str, settings: Settings) -> None:
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:  # pragma: no cover - depends on the installation
            raise ConfigError("the hf engine needs `pip install fabula[hf]`") from exc
        self.settings = settings
        self.directory, self.source_gguf = self._resolve(model, settings)
        self.model_name = (self.source_gguf or self.directory).name
        torch.set_num_threads(settings.engine_threads())
        dtype = getattr(torch, settings.hf_dtype)
        self.tokenizer = AutoTokenizer.from_pretrained(self.directory)
        self.model = AutoModelForCausalLM.from_pretrained(self.directory, dtype=dtype).eval()
        if settings.adapter:
            self.model = apply_adapter(self.model, Path(settings.adapter))
        self._chat = bool(getattr(self.tokenizer, "chat_template", None))
        self.capabilities = Capabilities(
            steerable=True,
            streaming=True,
            logprobs=True,
            chat_template=self._chat,
            steppable=True,
            json_schema=True,
            logit_bias=True,
            ignore_eos=True,
        )
        self.eos_ids = self._eos_ids()
        # Transformers 5.x renamed `past_key_values` to `cache` (the old name warns, then goes).
        forward_args = inspect.signature(self.model.forward).parameters
        self._cache_name = "cache" if "cache" in forward_args else "past_key_values"
        # Only the last position's logits are needed: skip a [T, vocab] projection on prefill.
        self._keep = {"logits_to_keep": 1} if "logits_to_keep" in forward_args else {}
        self.extra_processors: list[LogitsProcessor] = []
        self.token_texts: dict[int, str | None] = {}  # decoded text of single tokens, for steppers
        self._lock = threading.Lock()

    def _resolve(self, model: str, settings: Settings) -> tuple[Path, Path | None]:
        return resolve_hf_model(model, settings)

    def _eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for source in (self.model.generation_config.eos_token_id, self.tokenizer.eos_token_id):
            if isinstance(source, int):
                ids.add(source)
            elif source:
                ids.update(source)
        return ids

    def model_info(self) -> dict[str, object]:
        if self.source_gguf is not None:
            digest: str | None = file_sha256(self.source_gguf, self.settings.home / "cache")
        else:
            weights = next(iter(sorted(self.directory.glob("*.safetensors"))), None)
            digest = file_sha256(weights, self.settings.home / "cache") if weights else None
        path = self.source_gguf or self.directory
        info: dict[str, object] = {
            "name": self.model_name,
            "path": str(path),
            "sha256": digest,
            "dtype": self.settings.hf_dtype,
        }
        if self.settings.adapter:
            weights = Path(self.settings.adapter) / "adapter_model.safetensors"
            info["adapter"] = {
                "path": self.settings.adapter,
                "sha256": file_sha256(weights, self.settings.home / "cache"),
            }
        return info

    def prompt_ids(self, request: Request) -> list[int]:
        if self._chat and not request.raw:
            encoded: Any = self.tokenizer.apply_chat_template(
                request.chat_dicts(), add_generation_prompt=True, tokenize=True
            )
            if hasattr(encoded, "keys"):
                encoded = encoded["input_ids"]
            return list(encoded)
        return list(self.tokenizer.encode(request.completion_prompt))

    def complete(self, request: Request, on_text: OnText | None = None) -> list[Completion]:
        with self._lock:
            return self._decode(request, on_text)

    def _decode(self, request: Request, on_text: OnText | None) -> list[Completion]:
        import torch

        from fabula.decoding.processors import build_processors, run_processors

        params = request.params
        prompt = self.prompt_ids(request)
        limit = getattr(self.model.config, "max_position_embeddings", 0) or 1 << 30
        if len(prompt) >= limit:
            raise BackendError(
                f"the prompt fills this model's whole context of {limit} tokens; shorten it", engine=self.name
            )
        if self.stop_at_context and params.max_tokens > limit - len(prompt):
            params = params.with_(max_tokens=limit - len(prompt))  # ends with finish_reason "length"
        if len(prompt) + params.max_tokens > limit:
            raise BackendError(
                f"prompt ({len(prompt)} tokens) + max_tokens ({params.max_tokens}) exceeds the "
                f"model's context of {limit}; lower max_tokens",
                engine=ENGINE,
            )
        seeds = candidate_seeds(params.seed, params.n)
        generators = [torch.Generator().manual_seed(s if s is not None else _random_seed()) for s in seeds]
        chain = build_processors(params, len(prompt)) + list(self.extra_processors)
        if request.logit_bias:  # before the samplers, as OpenAI and llama.cpp apply it
            chain.insert(0, _bias_processor(request.logit_bias))
        if request.json_schema is not None:  # first: the samplers then choose among valid tokens
            chain.insert(0, self._json_processor(request.json_schema, len(seeds), len(prompt)))
        rows = [_Row(self.tokenizer, params.stop) for _ in seeds]
        ends = set() if request.ignore_eos else self.eos_ids  # ignore_eos: write on to max_tokens
        start = time.perf_counter()
        first: float | None = None
        ids = torch.tensor([prompt] * len(seeds), dtype=torch.long)  # [n, T]
        with torch.inference_mode():
            out = self.model(input_ids=ids, use_cache=True, **self._keep)
            past = getattr(out, self._cache_name)
            logits = out.logits[:, -1, :].float()  # [n, V]
            for _step in range(params.max_tokens):
                check_cancelled()  # a generation nobody waits for stops at its next step
                scores = run_processors(chain, ids, logits)  # [n, V]
                chosen = self._sample(scores, generators, params.greedy)  # [n]
                logp = logits.log_softmax(-1).gather(1, chosen[:, None])[:, 0]  # [n]
                for i, row in enumerate(rows):
                    if not row.done:
                        delta = row.push(int(chosen[i]), float(logp[i]), ends)
                        if delta and on_text:
                            on_text(i, delta)
                if first is None:
                    first = time.perf_counter() - start
                if all(row.done for row in rows):
                    break
                ids = torch.cat([ids, chosen[:, None]], dim=1)  # [n, T+1]
                step_args = {self._cache_name: past}
                out = self.model(input_ids=chosen[:, None], use_cache=True, **self._keep, **step_args)
                past = getattr(out, self._cache_name)
                logits = out.logits[:, -1, :].float()
        total = time.perf_counter() - start
        completions = []
        for i, row in enumerate(rows):
            tail = row.finish()
            if tail and on_text:
                on_text(i, tail)
            completions.append(
                Completion(
                    text=row.text,
                    finish_reason=row.reason,
                    seed=seeds[i],
                    prompt_tokens=len(prompt),
                    completion_tokens=len(row.tokens),
                    token_logprobs=tuple(row.logprobs) or None,
                    first_token_s=first,
                    total_s=total,
                    prompt_mode="chat" if self._chat and not request.raw else "completion",
                    token_ids=tuple(row.tokens),
                )
            )
        return completions

    def _json_processor(self, schema: Any, rows: int, prompt_length: int) -> Any:
        from fabula.decoding.json_schema import JsonSchemaProcessor, ll_tokenizer

        if not getattr(self.tokenizer, "is_fast", False):
            raise InvalidParam(
                "json_schema",
                "(the form's schema)",
                f"the {self.name} engine's tokenizer cannot be compiled to a JSON grammar",
                hint="structured forms run on the llamacpp or hf engine, or an OpenAI-compatible server",
            )
        vocab = int(self.model.get_output_embeddings().weight.shape[0])
        return JsonSchemaProcessor(
            schema, ll_tokenizer(self.tokenizer, sorted(self.eos_ids), vocab), rows, prompt_length
        )

    def stepper(self, request: Request) -> HFStepper:
        """A one-token-at-a-time view of this model, for constrained decoding."""
        return HFStepper(self, self.prompt_ids(request))

    @staticmethod
    def _sample(scores: torch.Tensor, generators: list[torch.Generator], greedy: bool) -> torch.Tensor:
        import torch

        if greedy:
            return scores.argmax(-1)
        probs = scores.softmax(-1)  # [n, V]
        picks = [torch.multinomial(probs[i], 1, generator=g) for i, g in enumerate(generators)]
        return torch.cat(picks)  # [n]

    def close(self) -> None:
        pass


class HFStepper:
    """Our decode loop one token at a time: full logits each step, KV cache kept between steps."""

    def __init__(self, backend: HFBackend, prompt: list[int]) -> None:
        import torch

        self.backend = backend
        self.eos_ids = backend.eos_ids
        self._texts = backend.token_texts  # shared: a token's text never changes
        self._ids = list(prompt)
        self._prompt_length = len(prompt)
        with torch.inference_mode():
            out = backend.model(input_ids=torch.tensor([prompt]), use_cache=True, **backend._keep)
        self._past = getattr(out, backend._cache_name)
        self._logprobs = out.logits[0, -1, :].float().log_softmax(-1)  # [V]

    def _text(self, token: int) -> str | None:
        if token not in self._texts:
            text = str(self.backend.tokenizer.decode([token]))
            self._texts[token] = None if "\ufffd" in text or not text else text
        return self._texts[token]

    def top(self, k: int) -> list[tuple[int, str | None, float]]:
        values, ids = self._logprobs.topk(min(k, self._logprobs.shape[0]))
        return [(int(i), self._text(int(i)), float(v)) for v, i in zip(values, ids, strict=True)]

    def rewind(self, length: int) -> None:
        """Crop the KV cache to the prompt plus `length` tokens and recompute the last logits."""
        keep = self._prompt_length + length
        self._ids = self._ids[:keep]
        remove = self._past.get_seq_length() - (keep - 1)
        if remove > 0:
            self._past.crop(-remove)  # Transformers 5: a negative count removes that many tokens
        last = self._ids.pop()
        self.push(last)

    def push(self, token_id: int) -> None:
        import torch

        self._ids.append(token_id)
        with torch.inference_mode():
            out = self.backend.model(
                input_ids=torch.tensor([[token_id]]),
                use_cache=True,
                **self.backend._keep,
                **{self.backend._cache_name: self._past},
            )
        self._past = getattr(out, self.backend._cache_name)
        self._logprobs = out.logits[0, -1, :].float().log_softmax(-1)


def _random_seed() -> int:
    import secrets

    return secrets.randbelow(2**32 - 1)


class _Row:
    """One candidate's tokens and text: incremental detokenisation, EOS and stop strings.

    Text that could still turn into a stop string, or that ends in an incomplete UTF-8 sequence,
    is held back from the stream until it is settled.
    """

    def __init__(self, tokenizer: Any, stop: tuple[str, ...]) -> None:
        self.tokenizer = tokenizer
        self.stop = stop
        self.hold = max((len(s) for s in stop), default=1) - 1
        self.tokens: list[int] = []
        self.logprobs: list[float] = []
        self.text = ""
        self.emitted = 0
        self.done = False
        self.reason = "length"

    def push(self, token: int, logprob: float, eos_ids: set[int]) -> str:
        if token in eos_ids:
            self.done, self.reason = True, "stop"
            return ""
        self.tokens.append(token)
        self.logprobs.append(logprob)
        self.text = self.tokenizer.decode(self.tokens, skip_special_tokens=True)
        for stop in self.stop:
            cut = self.text.find(stop)
            if cut >= 0:
                self.text = self.text[:cut]
                self.done, self.reason = True, "stop"
        if self.done:
            return ""
        safe = len(self.text) - self.hold
        if self.text.endswith("\ufffd"):
            safe = min(safe, len(self.text.rstrip("\ufffd")))
        if safe <= self.emitted:
            return ""
        delta = self.text[self.emitted : safe]
        self.emitted = safe
        return delta

    def finish(self) -> str:
        delta = self.text[self.emitted :]
        self.emitted = len(self.text)
        return delta


def _bias_processor(bias: Any) -> Any:
    """OpenAI's logit_bias as a processor: each token id's bias added to its logit."""
    import torch

    ids = torch.tensor(list(bias.keys()), dtype=torch.long)
    values = torch.tensor(list(bias.values()), dtype=torch.float32)

    def add(_input_ids: Any, scores: Any) -> Any:
        scores = scores.clone()
        keep = ids < scores.shape[-1]
        scores[:, ids[keep]] += values[keep]
        return scores

    return add
