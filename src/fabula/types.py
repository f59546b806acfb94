"""Frozen value types passed between layers: what is asked of an engine and what comes back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from fabula.sampling import SamplingParams

Role = Literal["system", "user", "assistant"]
EXPORT_FORMATS = ("md", "txt", "json")


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True)
class Request:
    """One generation request.

    `messages` is used by engines whose model has a chat template; `completion_prompt` is the
    plain-text continuation prompt for base models without one (GPT-2 style). Forms supply both.
    """

    messages: tuple[Message, ...]
    completion_prompt: str
    params: SamplingParams
    raw: bool = False  # continue `completion_prompt` as plain text even on a chat model
    # a JSON Schema the output must validate against, enforced while decoding (structured forms)
    json_schema: Mapping[str, Any] | None = None
    # also report, for every generated token, its text and this many likeliest alternatives
    # (Completion.tokens); 0 reports only the sampled tokens' log-probabilities
    top_logprobs: int = 0
    # added to a token's logit before sampling, by token id (OpenAI's logit_bias: -100 bans, +100 forces)
    logit_bias: Mapping[int, float] | None = None
    ignore_eos: bool = False  # go on past the end-of-text token until max_tokens (llama.cpp's field)

    def chat_dicts(self) -> list[dict[str, str]]:
        return [{"role": m.role, "content": m.content} for m in self.messages]


@dataclass(frozen=True)
class Completion:
    """One candidate as the engine produced it, before cleaning."""

    text: str
    finish_reason: str  # "stop" | "length"
    seed: int | None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # of prompt_tokens, those a cached prefix supplied (OpenAI's usage field)
    token_logprobs: tuple[float, ...] | None = None
    first_token_s: float | None = None
    total_s: float = 0.0
    prompt_mode: Literal["chat", "completion"] = "chat"
    token_ids: tuple[int, ...] | None = None  # where the engine reports them (hf)
    # with Request.top_logprobs: per token {"token", "logprob", "bytes", "top_logprobs": [...]}, as
    # OpenAI's chat `logprobs.content` has them
    tokens: tuple[Mapping[str, Any], ...] | None = None

    @property
    def tokens_per_second(self) -> float:
        decode = self.total_s - (self.first_token_s or 0.0)
        steps = max(self.completion_tokens - 1, 0)
        return steps / decode if decode > 0 and steps else 0.0


@dataclass(frozen=True)
class Candidate:
    """A cleaned candidate with its scores and the verdicts of every check it went through."""

    text: str
    raw_text: str
    scores: dict[str, Any]
    verdicts: list[dict[str, Any]]
    completion: Completion
    chosen: bool = False
    checks: dict[str, Any] | None = None  # the form's full validator report, where it has one

    @property
    def passed(self) -> bool:
        return all(v["passed"] for v in self.verdicts if v.get("severity") == "error")

    def failures(self) -> list[str]:
        """`check: detail` of every error-level check this candidate failed."""
        return [
            f"{v['check']}: {v['detail']}" for v in self.verdicts if not v["passed"] and v.get("severity") == "error"
        ]


@dataclass(frozen=True)
class Work:
    """A finished piece: the chosen text, every candidate, and the provenance to reproduce it."""

    id: str
    form: str
    text: str
    candidates: tuple[Candidate, ...]
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def chosen(self) -> Candidate:
        """The candidate that became the text (the ranker's choice, or the writer's pick)."""
        index = self.provenance.get("post", {}).get("chosen_index")
        if index is None:
            index = next((i for i, c in enumerate(self.candidates) if c.chosen), 0)
        return self.candidates[index]

    @property
    def passed(self) -> bool:
        return bool(self.provenance.get("post", {}).get("passed", self.chosen.passed))

    def to_json(self) -> dict[str, Any]:
        """The `--json` contract of `fabula write` (these key names are relied on outside)."""
        return {
            "id": self.id,
            "form": self.form,
            "text": self.text,
            "candidates": [
                {"text": c.text, "scores": c.scores, "verdicts": c.verdicts, "chosen": c.chosen}
                | ({"checks": c.checks} if c.checks is not None else {})
                for c in self.candidates
            ],
            "provenance": self.provenance,
        }
