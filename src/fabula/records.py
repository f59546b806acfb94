"""The records that cross layers, typed: a check's verdict and a work's provenance.

They are JSON anyway (stored, exported in manifests, answered by the API), so they are pydantic
models: `verdict()` builds every verdict through `Verdict`, and `WorkStore.save` validates a
work's provenance against `Provenance` before anything is written, so a producer that leaves out
a field, or gives it the wrong type, fails at once and by name instead of breaking a reader later.
Producers may add their own keys (a plan's steps, a digest's picks): the models allow extras.
`single_candidate_work` is the one builder for works that are not chosen among candidates
(screenplays and books from plans, stream scripts, digests).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fabula.types import Candidate, Completion, Work


class Verdict(BaseModel):
    """One check's outcome: `error` rejects a candidate, `warning` marks it, `info` notes a repair."""

    model_config = ConfigDict(extra="forbid")

    check: str
    passed: bool
    detail: str
    severity: Literal["error", "warning", "info"] = "error"


class PromptRecord(BaseModel):
    model_config = ConfigDict(extra="allow")

    user_prompt: str
    inputs: dict[str, str] = Field(default_factory=dict)


class PostRecord(BaseModel):
    """How the text was chosen: the winner, why, whether it passed, every candidate's verdicts."""

    model_config = ConfigDict(extra="allow")

    chosen_index: int = Field(ge=0)
    why: str
    passed: bool
    verdicts: list[list[Verdict]]


class Timing(BaseModel):
    model_config = ConfigDict(extra="allow")

    seconds: float
    completion_tokens: int
    first_token_s: float | None = None
    tokens_per_second: float = 0.0


class Provenance(BaseModel):
    """What every saved work records about how it came to be."""

    model_config = ConfigDict(extra="allow")

    engine: str
    model: dict[str, Any]
    params: dict[str, Any]
    seed: int | None
    prompt: PromptRecord
    template: str
    created_at: str
    fabula_version: str
    post: PostRecord
    timing: Timing


def check_provenance(provenance: Mapping[str, Any]) -> None:
    """Raise pydantic's ValidationError (naming the field) when `provenance` is not a Provenance."""
    Provenance.model_validate(provenance)


def single_candidate_work(
    form: str,
    text: str,
    verdicts: list[dict[str, Any]],
    *,
    engine: str,
    model: dict[str, Any],
    params: dict[str, Any],
    seed: int | None,
    user_prompt: str,
    inputs: Mapping[str, str],
    template: str,
    why: str,
    seconds: float = 0.0,
    tokens: int = 0,
    scores: dict[str, Any] | None = None,
    checks: dict[str, Any] | None = None,
    passed: bool | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Work:
    """A work with one candidate, chosen by construction, and its provenance."""
    from fabula import __version__
    from fabula.pipeline import new_work_id

    completion = Completion(text, "stop", seed, completion_tokens=tokens, total_s=seconds)
    candidate = Candidate(text, text, scores or {"words": len(text.split())}, verdicts, completion, True, checks)
    provenance = {
        "engine": engine,
        "model": model,
        "params": params,
        "seed": seed,
        **dict(extra or {}),
        "prompt": {"user_prompt": user_prompt, "inputs": dict(inputs)},
        "template": template,
        "created_at": datetime.now(UTC).isoformat(),
        "fabula_version": __version__,
        "post": {
            "chosen_index": 0,
            "why": why,
            "passed": candidate.passed if passed is None else passed,
            "verdicts": [verdicts],
        },
        "timing": {
            "seconds": round(seconds, 3),
            "completion_tokens": tokens,
            "first_token_s": None,
            "tokens_per_second": round(tokens / seconds, 2) if seconds and tokens else 0.0,
        },
    }
    check_provenance(provenance)
    return Work(new_work_id(), form, text, (candidate,), provenance)
