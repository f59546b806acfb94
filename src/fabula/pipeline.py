"""The write pipeline: form -> prompt -> engine -> clean -> check -> score -> choose -> provenance.

It sees the engine only through the Backend protocol and never touches storage: surfaces save
the returned Work. Every decision (cleaning steps, verdicts, which candidate won and why) goes
into the Work's provenance, so a reader can see how a text came to be and reproduce it.
"""

from __future__ import annotations

import contextvars
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fabula import __version__
from fabula.backends.base import Backend, OnText, SteppableBackend, steppable
from fabula.errors import InvalidParam
from fabula.forms import get_form
from fabula.forms.base import RenderedPrompt, verdict
from fabula.post.clean import Cleaned, clean
from fabula.post.language import check_language, expected_language
from fabula.post.leaks import check as check_leaks
from fabula.post.leaks import first_leak
from fabula.post.loops import MAX_RESAMPLES, find_loop
from fabula.post.rank import Ranker, choose, score
from fabula.responsible.safety import SafetyPolicy

if TYPE_CHECKING:
    from fabula.personalize.voice import Voice
from fabula.sampling import MAX_SEED, SamplingParams, refuse_unsupported
from fabula.types import Candidate, Completion, Message, Request, Work

LOG = logging.getLogger(__name__)

# Room for the largest object a structured form's schema allows (its lengths and counts are bounded).
STRUCTURED_MIN_TOKENS = 2048


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
    constrain: bool = True,
    ranker: Ranker | None = None,
    watermark_key: str | None = None,
    safety: SafetyPolicy | None = None,
    voice: Voice | None = None,
) -> Work:
    """Generate `params.n` candidates of a form and return the Work with the best one chosen.

    With `constrain` (the default) a form with a constraint (a fixed verse form) is decoded
    inside it on engines that can be stepped token by token; `constrain=False` measures what the
    model does when only asked. The `safety` policy (the defaults when None) checks the prompt
    before anything is generated, gives every candidate a safety verdict, and raises `Blocked`
    when the chosen text is blocked.
    A user's `voice` adds their preferences as inputs and their own writing as exemplars.
    """
    form = get_form(form_name)
    ranker = ranker or Ranker()
    safety = safety or SafetyPolicy()  # the floors hold for every caller, not only the surfaces
    if voice is not None:
        inputs = {**voice.inputs, **(inputs or {})}
    rendered = form.render(prompt, inputs or {})
    if voice is not None and voice.block():
        rendered = _with_voice(rendered, voice.block())
    safety.enforce("\n".join(str(v) for v in rendered.inputs.values()), "prompt")
    params = params or SamplingParams()
    if params.seed is None:
        params = params.with_(seed=secrets.randbelow(MAX_SEED + 1))
    schema = form.json_schema(rendered.inputs) if form.json_schema else None
    if schema is not None and params.max_tokens < STRUCTURED_MIN_TOKENS:
        params = params.with_(max_tokens=STRUCTURED_MIN_TOKENS)  # a cut-off JSON is no JSON at all
    if backend.capabilities.instructions:
        request = Request(rendered.messages, rendered.completion_prompt, params, json_schema=schema)
    else:  # a continuation model: the form's continuation prompt, as plain text
        text = form.continuation(rendered.inputs) if form.continuation else rendered.inputs["prompt"]
        request = Request(rendered.messages, text, params, raw=True, json_schema=schema)
    constraint = form.constrain(rendered.inputs) if form.constrain and constrain else None
    stepped = steppable(backend)  # None for an engine that cannot be driven token by token
    steerable = constraint is not None and stepped is not None
    if params.ban_phrases and (constraint is not None or stepped is None):
        raise InvalidParam(
            "ban_phrases",
            list(params.ban_phrases),
            "phrase bans need an engine that can be stepped (llamacpp, hf) and a free form",
            hint="use the llamacpp or hf engine; fixed verse forms are already constrained",
        )

    if watermark_key is not None:
        _check_watermarkable(backend, stepped, steerable, schema, params)

    def generate(req: Request, stream: OnText | None) -> list[Completion]:
        if stepped is not None and watermark_key is not None:
            return _watermarked(stepped, req, stream, watermark_key)
        if stepped is not None and steerable:
            return _constrained(stepped, req, constraint, stream)
        if stepped is not None and req.params.ban_phrases:
            return _with_bans(stepped, req, stream)
        return backend.complete(req, stream)

    language = expected_language(form.name, rendered.inputs)
    started = time.perf_counter()
    completions = generate(request, on_text)
    structured = steerable or schema is not None  # built token by token: only whitespace is cleaned

    def defect(completion: Completion) -> str | None:
        """Why this candidate should be sampled again: a loop (JSON repeats its punctuation lines
        by nature: not checked there), a leak that cutting cannot mend, a failed check the form
        names in `resample_when` (a summary's invented fact), or a drift out of its language."""
        text = clean(completion.text, prompt=rendered.inputs["prompt"], constrained=structured).text
        loop = find_loop(text) if schema is None else None
        return loop or first_leak(text) or _failed_check(text) or _wrong_language(text)

    def _wrong_language(text: str) -> str | None:
        ok, detail = check_language(text, language)
        return None if ok else f"language: {detail}"

    def _failed_check(text: str) -> str | None:
        if not form.resample_when:
            return None
        laid_out = form.assemble(text, rendered.inputs) if form.assemble else text
        failed = [v for v in form.validate(laid_out, rendered.inputs) if v["check"] in form.resample_when]
        return next((f"{v['check']}: {v['detail']}" for v in failed if not v["passed"]), None)

    completions, resampled = _resample_defects(completions, request, generate, defect)
    elapsed = time.perf_counter() - started
    LOG.info(
        "generated %d candidate(s) of %s with %s in %.2f s (%d tokens)",
        len(completions),
        form.name,
        backend.name,
        elapsed,
        sum(c.completion_tokens for c in completions),
    )
    for redo in resampled:
        LOG.info("resampled a candidate: %s", redo)

    candidates = []
    repairs: list[dict[str, Any]] = []
    for completion in completions:
        cleaned = clean(
            completion.text,
            prompt=rendered.inputs["prompt"],
            truncated=completion.finish_reason == "length",
            constrained=structured,
        )
        if constraint is not None and not steerable and form.repair is not None:  # black-box engine
            cleaned, repair = _repair(form, backend, request, rendered.inputs, cleaned)
            repairs.append(repair)
        unleaked, leak_verdicts = check_leaks(cleaned.text, constrained=structured)
        cleaned = Cleaned(unleaked, cleaned.verdicts + leak_verdicts)
        text = form.assemble(cleaned.text, rendered.inputs) if form.assemble else cleaned.text
        verdicts: list[dict[str, Any]] = [verdict("non_empty", bool(cleaned.text.strip()), f"{len(text)} characters")]
        verdicts += form.validate(text, rendered.inputs) + cleaned.verdicts
        if schema is None:
            loop = find_loop(cleaned.text)
            verdicts.append(verdict("no_loop", loop is None, loop or "no repeated lines or trailing phrase loop"))
        verdicts.append(verdict("language", *check_language(text, language)))
        verdicts.append(_safety_verdict(safety, text))
        checks = form.report(text, rendered.inputs) if form.report else None
        scores = score(cleaned.text, completion)
        candidates.append(Candidate(text, completion.text, scores, verdicts, completion, checks=checks))
    best, why, ranked = choose(candidates, ranker)
    candidates = [
        replace(c, scores=sc, chosen=(i == best)) for i, (c, sc) in enumerate(zip(candidates, ranked, strict=True))
    ]
    chosen = candidates[best]
    LOG.info("chose candidate %d of %d: %s", best + 1, len(candidates), why)
    for i, candidate in enumerate(candidates):
        failed = [v["check"] for v in candidate.verdicts if not v["passed"]]
        LOG.debug("candidate %d scores %s; failed checks: %s", i + 1, candidate.scores, failed or "none")
    safety.enforce(chosen.text, "output")  # every candidate failed it: nothing may pass as the work
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
            "completion_prompt": request.completion_prompt,
        },
        "template": form.template_id,
        "constrained": steerable,
        **({"json_schema": schema.get("$id", "inline")} if schema else {}),
        **({"repairs": repairs} if repairs else {}),
        **({"resampled": resampled} if resampled else {}),
        **({"watermark": _watermark_record(chosen, watermark_key)} if watermark_key is not None else {}),
        **({"personalization": voice.record()} if voice is not None else {}),
        "created_at": datetime.now(UTC).isoformat(),
        "fabula_version": __version__,
        "post": {
            "chosen_index": best,
            "why": why,
            "rank_formula": ranker.formula,
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


def _resample_defects(
    completions: list[Completion],
    request: Request,
    generate: Callable[[Request, OnText | None], list[Completion]],
    defect: Callable[[Completion], str | None],
) -> tuple[list[Completion], list[dict[str, Any]]]:
    """Sample a defective candidate (a loop, a leak) again with a fresh seed (seed + n, seed + n
    + 1, ...), at most MAX_RESAMPLES times per work; keep the new text only if it is sound."""
    params = request.params
    resampled: list[dict[str, Any]] = []
    out = list(completions)
    for i, completion in enumerate(out):
        why = defect(completion)
        while why is not None and len(resampled) < MAX_RESAMPLES:
            seed = None if params.seed is None else (params.seed + params.n + len(resampled)) % (MAX_SEED + 1)
            again = generate(replace(request, params=params.with_(n=1, seed=seed)), None)[0]
            again_why = defect(again)
            resampled.append({"candidate": i, "defect": why, "seed": seed, "fixed": again_why is None})
            if again_why is None:
                out[i] = again
            why = again_why
    return out, resampled


def _repair(
    form: Any, backend: Backend, request: Request, inputs: dict[str, str], cleaned: Any
) -> tuple[Any, dict[str, Any]]:
    """A black-box engine's text mended by the form's own repair hook (bounded)."""

    text, report = form.repair(backend, request, inputs, cleaned.text)
    note = {
        "check": "repair",
        "passed": not report["still_failing"],
        "severity": "info",
        "detail": f"{len(report['repaired_lines'])} lines repaired in {report['requests']} requests",
    }
    return Cleaned(text, [*cleaned.verdicts, note]), report


SampleOne = Callable[[Any, int | None, Callable[[str], None] | None], Completion]


def _stepped(
    backend: SteppableBackend, request: Request, on_text: OnText | None, sample: SampleOne
) -> list[Completion]:
    """Each candidate sampled token by token on its own stepper, seeds as in `Backend.complete`.

    An engine that decodes several sequences together (`capabilities.parallel`) gets the
    candidates on as many threads: while one thread's sampler works in Python, the others' steps
    are decoded in the same engine pass. Each stepper is its own sequence, so a candidate's text
    does not depend on the company it keeps (tested against each candidate run alone)."""
    from fabula.backends.base import candidate_seeds

    seeds = candidate_seeds(request.params.seed, request.params.n)
    lock = threading.Lock()

    def one(index: int, seed: int | None) -> Completion:
        def emit(delta: str) -> None:
            assert on_text is not None
            with lock:  # one candidate's delta at a time, whatever thread wrote it
                on_text(index, delta)

        return sample(backend.stepper(request), seed, emit if on_text else None)

    workers = min(len(seeds), backend.capabilities.parallel)
    if workers <= 1:
        return [one(index, seed) for index, seed in enumerate(seeds)]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fabula-candidate") as pool:
        # each candidate runs in a copy of this context: a cancel token set around the request
        # reaches every thread
        futures = [pool.submit(contextvars.copy_context().run, one, i, seed) for i, seed in enumerate(seeds)]
        return [future.result() for future in futures]


def _with_bans(backend: SteppableBackend, request: Request, on_text: OnText | None) -> list[Completion]:
    """Banned phrases undone by backtracking."""
    from fabula.decoding.antislop import sample_with_bans

    return _stepped(backend, request, on_text, lambda st, seed, emit: sample_with_bans(st, request.params, seed, emit))


def _constrained(
    backend: SteppableBackend, request: Request, constraint: Any, on_text: OnText | None
) -> list[Completion]:
    """Decoded inside the form's constraint."""
    from fabula.decoding.constrained import constrained_sample

    params = request.params
    refuse_unsupported(params, set(), "constrained verse decoding", hint="leave it off for fixed forms")
    # enough tokens for the whole form whatever max_tokens says: a poem cut short keeps no form
    budget = max(params.max_tokens, constraint.token_budget())
    return _stepped(
        backend,
        request,
        on_text,
        lambda st, seed, emit: constrained_sample(st, constraint, params, seed, emit, max_tokens=budget),
    )


def _check_watermarkable(
    backend: Backend, stepped: SteppableBackend | None, steerable: bool, schema: Any, params: SamplingParams
) -> None:
    if stepped is None:
        raise InvalidParam(
            "watermark", backend.name, "the watermark biases each step's logits", hint="use the llamacpp or hf engine"
        )
    if steerable or schema is not None or params.ban_phrases:
        raise InvalidParam(
            "watermark",
            "on",
            "a watermark applies to free text (not fixed verse forms, JSON forms or phrase bans)",
            hint="leave the watermark off for this form",
        )
    refuse_unsupported(params, set(), "watermarked sampling")


def _watermarked(backend: SteppableBackend, request: Request, on_text: OnText | None, key: str) -> list[Completion]:
    """Green-list watermarked sampling (Kirchenbauer et al. 2023) on a stepped engine."""
    from fabula.decoding.watermarked import sample_watermarked

    def sample(stepper: Any, seed: int | None, emit: Callable[[str], None] | None) -> Completion:
        return sample_watermarked(stepper, request.params, seed, key, emit)

    return _stepped(backend, request, on_text, sample)


def _watermark_record(chosen: Candidate, key: str) -> dict[str, Any]:
    """What provenance says about the mark: the scheme and a key fingerprint (never the key), and
    the detector's score on the tokens as generated."""
    from fabula.responsible.watermark import DELTA, score_ids

    ids = list(chosen.completion.token_ids or ())
    return score_ids(ids, key) | {"delta": DELTA}


def _with_voice(rendered: RenderedPrompt, block: str) -> RenderedPrompt:
    """The exemplar block appended to the system message, and ahead of a continuation prompt."""
    system, *rest = rendered.messages
    messages = (Message("system", f"{system.content}\n\n{block}"), *rest)
    return replace(rendered, messages=messages, completion_prompt=f"{block}\n\n{rendered.completion_prompt}")


def _safety_verdict(policy: SafetyPolicy, text: str) -> dict[str, Any]:
    found = policy.check(text)
    detail = ", ".join(f"{c} {found['scores'][c]:.2f}" for c in found["categories"]) or "nothing blocked"
    return verdict("safety", not found["blocked"], detail)


def _round(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None
