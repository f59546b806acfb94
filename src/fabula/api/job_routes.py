"""/api/jobs and /api/train: long work in the background, with progress, for its owner only.

Training over HTTP takes a named corpus (austen, tang) or the texts in the request; it never
takes a path on the server, so no user can make the server read files of its own. The model is
written to the user's own folder and can then be chosen like any other of our GPTs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from fabula.api.deps import Owner, State
from fabula.api.requests import object_schema, openapi_body, parse_json
from fabula.errors import ConfigError, InvalidParam
from fabula.store.works import user_folder

router = APIRouter(prefix="/api")

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
MAX_TEXTS = 10_000
TRAIN_SCHEMA = object_schema(
    ["name"],
    name={"type": "string", "pattern": NAME.pattern},
    corpus={"type": "string", "enum": ["austen", "tang"]},
    texts={"type": "array", "items": {"type": "string"}, "maxItems": MAX_TEXTS},
    overrides={"type": "array", "items": {"type": "string"}},
    max_steps={"type": "integer", "minimum": 1, "maximum": 1_000_000},
)


@router.get("/jobs")
async def list_jobs(state: State, owner: Owner) -> dict[str, Any]:
    return {"jobs": state.jobs.list(owner)}


@router.get("/jobs/{job_id}")
async def get_job(state: State, owner: Owner, job_id: str) -> dict[str, Any]:
    return state.jobs.get(owner, job_id)  # type: ignore[no-any-return]


@router.post("/jobs/{job_id}/cancel")
async def cancel_job(state: State, owner: Owner, job_id: str) -> dict[str, Any]:
    return state.jobs.cancel(owner, job_id)  # type: ignore[no-any-return]


@router.post("/train", status_code=202, openapi_extra=openapi_body(TRAIN_SCHEMA))
async def train(request: Request, state: State, owner: Owner) -> JSONResponse:
    """Pretrain our GPT as a job: {name, corpus: "austen"|"tang" | texts: [...], overrides?: ["model.n_layer=2"],
    max_steps?}. GET /api/jobs/{id} shows step, loss and tokens/s; the result names the model."""
    from fabula.train.config import load_config

    data = parse_json(await request.body())
    unknown = sorted(set(data) - {"name", "corpus", "texts", "overrides", "max_steps"})
    if unknown:
        raise InvalidParam(unknown[0], data[unknown[0]], "training takes name, corpus or texts, overrides, max_steps")
    name = data.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise InvalidParam("name", name, "1-40 letters, digits, - or _, starting with a letter or digit")
    overrides = data.get("overrides", [])
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        raise InvalidParam("overrides", overrides, 'a list like ["model.n_layer=2", "train.batch_size=8"]')
    if any(o.lstrip("-").startswith("data.corpus") for o in overrides):
        raise InvalidParam("overrides", "data.corpus", "name the corpus with `corpus` or send `texts`")
    max_steps = data.get("max_steps")
    if max_steps is not None and (
        isinstance(max_steps, bool) or not isinstance(max_steps, int) or not 1 <= max_steps <= 1_000_000
    ):
        raise InvalidParam("max_steps", max_steps, "a whole number from 1 to 1000000")
    folder = user_folder(state.settings.ensure_home(), owner)
    out = folder / "models" / name
    if out.exists():
        raise InvalidParam("name", name, "you already have a model of that name; choose another")
    texts, corpus = data.get("texts"), data.get("corpus")
    if (texts is None) == (corpus is None):
        raise InvalidParam("corpus", corpus, 'give either corpus ("austen" or "tang") or texts (a list of strings)')
    if corpus is not None and corpus not in ("austen", "tang"):
        raise InvalidParam("corpus", corpus, "the server's corpora are austen and tang; send your own as texts")
    if texts is not None and (
        not isinstance(texts, list)
        or not 1 <= len(texts) <= MAX_TEXTS
        or not all(isinstance(t, str) and t.strip() for t in texts)
    ):
        raise InvalidParam("texts", f"{type(texts).__name__}", f"a list of 1 to {MAX_TEXTS} non-empty strings")
    items = [f"data.corpus={corpus or folder / 'corpora' / name}", *overrides]
    items += [f"train.max_steps={max_steps}"] if max_steps else []
    try:
        cfg = load_config(None, items)  # a bad override is a 400 now, naming it
    except ConfigError as exc:
        raise InvalidParam("overrides", overrides, str(exc)) from None
    cfg.name = name
    from fabula.train.bounds import TrainLimits, check

    s = state.settings
    cost = check(
        cfg, TrainLimits(s.api_train_max_parameters, s.api_train_max_steps, s.api_train_max_memory_mb * 1024**2)
    )
    job = state.jobs.submit(
        owner,
        "pretrain",
        {"name": name, "overrides": overrides, "max_steps": max_steps, "parameters": cost.parameters},
        _pretrain_job(state, cfg, out, texts, folder),
        resource=f"model {out}",
    )
    return JSONResponse({"job": job}, status_code=202)


def _pretrain_job(state: Any, cfg: Any, out: Path, texts: list[str] | None, folder: Path) -> Any:
    def work(progress: Any) -> dict[str, Any]:
        from fabula.files import write_atomic
        from fabula.train.pretrain import pretrain

        if texts is not None:
            corpus = folder / "corpora" / cfg.name
            for i, text in enumerate(texts):
                write_atomic(corpus / f"{i:05d}.txt", text)
        total = cfg.train.max_steps

        def on_event(event: dict[str, Any]) -> None:
            if event.get("event") == "train":
                progress(
                    step="train",
                    done=event["step"],
                    total=total,
                    loss=round(event["loss"], 4),
                    tokens_per_s=round(event["tokens_per_s"]),
                )
            elif event.get("event") == "eval":
                progress(step="eval", done=event["step"], total=total, val_loss=round(event["val_loss"], 4))

        summary = pretrain(cfg, out, state.settings.ensure_home(), on_event=on_event)
        return {
            "model": cfg.name,
            "step": summary["step"],
            "val_loss": summary["val_loss"],
            "tokens_per_s": summary["tokens_per_s"],
        }

    return work
