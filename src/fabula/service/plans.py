"""Plans' services: start one, write it (or the rest of it), regenerate a part, save it as a work.

`fabula write screenplay`, `fabula plan ...` and `/api/plans` all start, resume and finish plans
here, so a plan made on one surface is listed, edited and exported on every other: plans live in
one `PlanStore` per owner (local mode sees every folder, as the operator of the machine).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fabula.errors import InvalidParam
from fabula.plan.model import Plan
from fabula.sampling import SamplingParams
from fabula.settings import Settings
from fabula.types import Work

OnStep = Callable[[str, int, int], None]
KINDS = ("screenplay", "story")
TEMPLATES = ("three-act", "hero-journey", "save-the-cat", "kishotenketsu", "five-act")


def plan_store(settings: Settings, owner: str | None = None) -> Any:
    from fabula.plan.store import PlanStore

    return PlanStore(settings.ensure_home(), owner)


def start_plan(
    kind: str,
    logline: str | None,
    inputs: Mapping[str, Any],
    params: SamplingParams,
    settings: Settings,
    owner: str | None = None,
    model: str = "",
) -> Plan:
    """Check the request, make the plan and save it (nothing is written yet).

    `inputs` may hold `template` (a beat template), `cast` (2 to 6 main characters) and
    `context` (on by default: each unit is told the story so far; off writes each alone)."""
    from fabula.plan.cowrite import new_plan
    from fabula.responsible.safety import SafetyPolicy

    if kind not in KINDS:
        raise InvalidParam("kind", kind, f"plans are for: {', '.join(KINDS)}")
    unknown = sorted(set(inputs) - {"template", "cast", "context"})
    if unknown:
        raise InvalidParam(
            unknown[0], inputs[unknown[0]], f"a planned {kind} takes template=NAME, cast=N and context=on|off"
        )
    context = _switch("context", inputs.get("context", True))
    cast = inputs.get("cast", 4)
    try:
        cast = int(cast) if not isinstance(cast, bool) else None
    except (TypeError, ValueError):
        cast = None
    if cast is None:
        raise InvalidParam("cast", inputs.get("cast"), "a whole number of main characters, 2 to 6")
    template = inputs.get("template", "three-act")
    if not isinstance(template, str):
        raise InvalidParam("template", template, f"a beat template: {', '.join(TEMPLATES)}")
    if not isinstance(logline, str) or not logline.strip():
        raise InvalidParam("logline", logline or "", f"give the {kind} a logline: one or two sentences")
    SafetyPolicy.parse(settings.safety).enforce(logline, "prompt")
    plan = new_plan(kind, logline, template, cast, params.seed, model=model, context=context)
    plan.params = params.with_(seed=plan.seed).to_dict()
    plan_store(settings, owner).save(plan)
    return plan


SWITCH = {"on": True, "true": True, "yes": True, "1": True, "off": False, "false": False, "no": False, "0": False}


def _switch(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in SWITCH:
        return SWITCH[value.strip().lower()]
    raise InvalidParam(name, value, "on or off (true/false)")


def plan_writer(
    plan: Plan,
    settings: Settings,
    *,
    engine: str | None = None,
    model: str | None = None,
    params: SamplingParams | None = None,
    on_step: OnStep | None = None,
    owner: str | None = None,
    backend: Any = None,
) -> Any:
    """The PlanWriter for this plan: its engine (as asked, as before, or the settings'), its
    sampling (as asked, else as the plan recorded), saving after every step."""
    from fabula.plan.runner import PlanWriter

    engine_name = engine or plan.engine or settings.engine
    if backend is None:
        from fabula.backends import get_backend

        backend = get_backend(engine_name, model if model is not None else (plan.model or settings.model), settings)
    plan.engine = engine_name
    if params is None:
        params = SamplingParams.from_mapping(plan.params) if plan.params else None
    writer = PlanWriter(backend, plan_store(settings, owner).save, params, on_step=on_step)
    plan.params = writer.params.to_dict()
    return writer


@dataclass(frozen=True)
class PlanResult:
    plan: Plan
    work: Work
    exported: Path | None = None


def finish_plan(
    plan: Plan,
    writer: Any,
    settings: Settings,
    *,
    started: float,
    owner: str | None = None,
    export: Path | None = None,
    on_notice: Callable[[str], None] | None = None,
    store: Any = None,
) -> PlanResult:
    """Save the written plan as a work (reviewed like any work) and export it if asked.

    A work that fails its checks is still saved; one the safety policy blocks is not, and the
    plan is kept so the offending part can be edited or regenerated."""
    from fabula.plan.cowrite import export as export_plan
    from fabula.plan.work import plan_work
    from fabula.responsible.review import export_manifest, gate, review_and_save
    from fabula.responsible.safety import Blocked, SafetyPolicy
    from fabula.store.works import WorkStore

    plan_store(settings, owner).save(plan)
    store = store or WorkStore(settings.db_url)
    work = plan_work(plan, writer.backend.model_info(), time.perf_counter() - started)
    try:
        work = review_and_save(
            work, settings, store, safety=SafetyPolicy.parse(settings.safety), on_build=on_notice, owner=owner
        )
    except Blocked as exc:
        raise Blocked(
            f"{exc}; plan {plan.id} is kept: edit or regenerate the offending part, then export it", exc.verdict
        ) from exc
    exported = None
    if export is not None:
        gate(work.provenance, settings, "export")
        export_plan(plan, export)
        export_manifest(store.get(work.id), export, settings)
        exported = export
    return PlanResult(plan, work, exported)


def check_plan_export(kind: str, export: Path | None) -> None:
    from fabula.plan.cowrite import EXPORTS

    if export is not None and export.suffix.lower() not in EXPORTS[kind]:
        raise InvalidParam("export", str(export), f"a {kind} exports to {', '.join(EXPORTS[kind])}")


def write_plan(
    plan: Plan,
    writer: Any,
    settings: Settings,
    *,
    owner: str | None = None,
    export: Path | None = None,
    on_notice: Callable[[str], None] | None = None,
) -> PlanResult:
    """Write every step still missing, then finish the plan as a work."""
    check_plan_export(plan.kind, export)
    started = time.perf_counter()
    writer.run(plan)
    return finish_plan(plan, writer, settings, started=started, owner=owner, export=export, on_notice=on_notice)


def export_plan_file(plan: Plan, file: Path, settings: Settings) -> Path:
    """Write the plan to `file` (through the export gate) with its provenance manifest beside it."""
    from fabula.plan.cowrite import export
    from fabula.plan.work import plan_work
    from fabula.responsible.review import export_manifest, gate, review_work

    work = review_work(plan_work(plan, {"name": plan.model or "(as in the plan's steps)"}, 0.0), settings)
    gate(work.provenance, settings, "export")
    export(plan, file)
    return export_manifest(work.to_json(), file, settings)
