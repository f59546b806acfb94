"""The write pipeline: form -> prompt -> engine -> clean -> check -> score -> choose -> provenance.

It sees the engine only through the Backend protocol and never touches storage: surfaces save
the returned Work. Every decision (cleaning steps, verdicts, which candidate won and why) goes
into the Work's provenance, so a reader can see how a text came to be and reproduce it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fabula import __version__
from fabula.backends.base import Backend, OnText
from fabula.forms import get_form
from fabula.forms.base import verdict
from fabula.post.clean import clean
from fabula.post.rank import RANK_FORMULA, choose, score
from fabula.sampling import MAX_SEED, SamplingParams
from fabula.types import Candidate, Request, Work


def new_work_id() -> str:
    """Time-ordered id: 12 hex digits of milliseconds, then 8 random hex digits."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(4)}"


def write(
    backend: Backend,
    form_name: str,
    prompt: str | None = None,
    inputs: Mapping[str, str] | None = None,
    params: SamplingParams | None = None,
    on_text: OnText | None = None,
) -> Work:
    """Generate `params.n` candidates of a form and return the Work with the best one chosen."""
    form = get_form(form_name)
    rendered = form.render(prompt, inputs or {})
    params = params or SamplingParams()
    if params.seed is None:
        params = params.with_(seed=secrets.randbelow(MAX_SEED + 1))
    request = Request(rendered.messages, rendered.completion_prompt, params)
    started = time.perf_counter()
    completions = backend.complete(request, on_text)
    elapsed = time.perf_counter() - started

    candidates = []
    for completion in completions:
        cleaned = clean(
            completion.text,
            prompt=rendered.inputs["prompt"],
            truncated=completion.finish_reason == "length",
        )
        verdicts: list[dict[str, Any]] = [
            verdict("non_empty", bool(cleaned.text.strip()), f"{len(cleaned.text)} characters")
        ]
        verdicts += form.validate(cleaned.text) + cleaned.verdicts
        candidates.append(
            Candidate(cleaned.text, completion.text, score(cleaned.text, completion), verdicts, completion)
        )
    best, why = choose(candidates)
    candidates = [
        Candidate(c.text, c.raw_text, c.scores, c.verdicts, c.completion, chosen=(i == best))
        for i, c in enumerate(candidates)
    ]
    chosen = candidates[best]
    provenance = {
        "engine": backend.name,
        "model": backend.model_info(),
        "params": params.to_dict(),
        "seed": params.seed,
        "candidate_seeds": [c.completion.seed for c in candidates],
        "prompt": {
            "user_prompt": rendered.inputs["prompt"],
            "inputs": rendered.inputs,
            "mode": chosen.completion.prompt_mode,
            "messages": request.chat_dicts(),
            "completion_prompt": rendered.completion_prompt,
        },
        "template": form.template_id,
        "created_at": datetime.now(UTC).isoformat(),
        "fabula_version": __version__,
        "post": {
            "chosen_index": best,
            "why": why,
            "rank_formula": RANK_FORMULA,
            "passed": chosen.passed,
            "verdicts": [c.verdicts for c in candidates],
        },
        "timing": {
            "seconds": round(elapsed, 3),
            "completion_tokens": sum(c.completion.completion_tokens for c in candidates),
            "first_token_s": _round(chosen.completion.first_token_s),
            "tokens_per_second": round(chosen.completion.tokens_per_second, 2),
        },
    }
    return Work(new_work_id(), form.name, chosen.text, tuple(candidates), provenance)


def _round(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None
