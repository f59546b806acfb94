"""Settings from the environment (FABULA_*), validated once; the surfaces pass them down.

FABULA_HOME holds the database, caches (model hashes, converted checkpoints) and exports; by
default it is the user data directory, so nothing is written into the source tree.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FABULA_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path(user_data_dir("fabula", appauthor=False)))
    database_url: str = ""
    engine: str = "llamacpp"
    model: str = ""
    catalog: str = ""  # a TOML file of more installable models, shaped like fabula/catalog/catalog.toml
    # "auto": the cores other work leaves free, measured once per process (fabula/threads.py)
    threads: int | Literal["auto"] = "auto"
    n_ctx: int = Field(default=4096, ge=256, le=131072)
    openai_base_url: str = "http://127.0.0.1:8080/v1"
    openai_api_key: str = ""
    openai_timeout_s: float = Field(default=120.0, gt=0)
    openai_dialect: Literal["llamacpp", "vllm", "openai"] = "llamacpp"
    hf_dtype: str = "float32"
    adapter: str = ""  # a PEFT LoRA adapter folder applied on the hf engine (fabula train finetune)
    # the secret of `--watermark`; empty: one is created in FABULA_HOME/watermark.key on first use
    watermark_key: str = ""
    # provenance manifests are signed with this ed25519 key when it exists (`fabula provenance keygen`);
    # empty: FABULA_HOME/signing.key
    signing_key: str = ""
    # originality: the flag rules (see fabula.responsible.originality) and what a flagged work, or one
    # scoring under originality_min_score, may not do: off | export | save
    originality_ngram: int = Field(default=13, ge=5, le=50)
    originality_min_verbatim: int = Field(default=50, ge=5)
    originality_min_overlap: int = Field(default=13, ge=5)
    originality_min_score: float = Field(default=0.0, ge=0.0, le=1.0)
    originality_block: Literal["off", "export", "save"] = "off"
    # reuse a llama.cpp slot's cached prompt prefix where that keeps every logit of a cold prefill
    # (backends/prompt_reuse.py): a request sharing a long prefix with an earlier one (the same
    # chapter, verb after verb) skips its prefill; off, every request prefills cold
    llamacpp_cache_prompt: bool = True
    # sequences llama.cpp decodes together: a request's candidates share one prefill and one read of
    # the weights per step, and the server's concurrent requests share the engine. Each slot has its
    # own n_ctx (its own KV cache, allocated as it is used), so a candidate reads the same logits
    # whether it runs alone or beside others
    llamacpp_slots: int = Field(default=8, ge=1, le=64)
    # llama.cpp's flash attention: off, because with it a sequence's logits change in the last bits
    # once it shares a decode batch with a sequence of another length across a 256-cell boundary
    # (the server's staggered requests, candidates stepped side by side); on, decoding alone is
    # about 20% faster on the default model and such texts can differ from their seed run alone
    llamacpp_flash_attention: bool = False
    # the HTTP API: requests running or waiting per process before a 429 (like OLLAMA_MAX_QUEUE)
    api_max_queue: int = Field(default=8, ge=1, le=1024)
    # names besides the loopback ones that the server answers to (comma-separated): other Host
    # headers are refused, so a rebound DNS name cannot read a local server
    api_allowed_hosts: str = ""
    # origins (scheme://host:port) besides the server's own whose pages may change its data
    api_allowed_origins: str = ""
    # a key made by signing in to the studio lasts this long (keys made with `fabula user key create`
    # last until revoked)
    api_session_hours: float = Field(default=12.0, gt=0, le=24 * 90)
    # training jobs sent over HTTP: refused before queueing when their estimated cost passes these
    api_train_max_parameters: int = Field(default=20_000_000, ge=1)
    api_train_max_steps: int = Field(default=20_000, ge=1)
    api_train_max_memory_mb: int = Field(default=4096, ge=1)
    # background jobs: worker threads, and jobs one user may have queued or running at once
    api_job_workers: int = Field(default=2, ge=1, le=64)
    api_jobs_per_user: int = Field(default=4, ge=1, le=1000)
    # safety levels per category, "hate=low,graphic_violence=medium"; floors hold whatever is set here
    safety: str = ""

    @field_validator("threads", mode="before")
    @classmethod
    def _thread_count(cls, value: object) -> int | str:
        """One message for every bad value, naming both kinds of good one (pydantic's own would
        name a union member, "threads.constrained-int")."""
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        try:
            count = int(str(value).strip()) if not isinstance(value, int) else value
        except ValueError:
            count = 0
        if not 1 <= count <= 256:
            raise ValueError("use a number of threads from 1 to 256, or auto (the cores other work leaves free)")
        return count

    @field_validator("home", mode="before")
    @classmethod
    def _home_named(cls, value: object) -> object:
        """An empty FABULA_HOME would make the home the current folder (Path("") is "."), so the
        database and caches would land wherever the command runs: refused instead."""
        if isinstance(value, str) and not value.strip():
            raise ValueError("an empty name would put the database wherever the command runs; name a folder")
        return value

    @field_validator("hf_dtype")
    @classmethod
    def _known_dtype(cls, value: str) -> str:
        if value not in {"float32", "bfloat16", "float16"}:
            raise ValueError(f"hf_dtype={value!r}: use float32 (fast on CPUs without bf16 units)")
        return value

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'fabula.db'}"

    @property
    def signing_key_path(self) -> Path:
        return Path(self.signing_key).expanduser() if self.signing_key else self.home / "signing.key"

    def engine_threads(self) -> int:
        """The thread count the engines use (FABULA_THREADS, or measured when it is "auto")."""
        from fabula.threads import resolve_threads

        return resolve_threads(self.threads)

    def ensure_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
