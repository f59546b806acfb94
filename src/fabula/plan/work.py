"""A written plan as a Work, so screenplays and books are saved, listed and exported like any work.

The work's text is the Fountain screenplay or the Markdown book; its one candidate carries the
verdicts of the independent checks (screenplain parses it and finds the plan's scenes and speakers;
the consistency report); its provenance keeps every step's seed, prompt, bible entries and timing.
"""

from __future__ import annotations

from typing import Any

from fabula.forms.base import verdict
from fabula.plan import book, fountain
from fabula.plan.consistency import check_plan
from fabula.plan.model import Plan
from fabula.records import single_candidate_work
from fabula.types import Work


def plan_work(plan: Plan, model_info: dict[str, object], seconds: float) -> Work:
    consistency = check_plan(plan)
    verdicts = [verdict("complete", plan.complete, f"{len(plan.pending())} steps still to write")]
    checks: dict[str, Any] = {"consistency": consistency}
    if plan.kind == "screenplay":
        text = fountain.to_fountain(plan)
        parsed = fountain.check(text, plan)
        checks["screenplain"] = parsed
        ok = parsed["parsed"] and not parsed["violations"]
        detail = "; ".join(parsed["violations"]) or f"{parsed['scenes']} scenes, {parsed['dialogue_blocks']} lines"
        verdicts.append(verdict("screenplain_parses", ok, detail))
    else:
        text = book.to_markdown(plan)
    detail = "; ".join(consistency["violations"][:3]) or "cast, speakers and names agree"
    verdicts.append(verdict("consistency", consistency["ok"], detail, severity="warning"))
    tokens = sum(step["completion_tokens"] for step in plan.log)
    return single_candidate_work(
        plan.kind,
        text,
        verdicts,
        engine=plan.engine,
        model=dict(model_info),
        params=plan.params,
        seed=plan.seed,
        user_prompt=plan.logline,
        inputs={"template": plan.template, "cast": str(plan.cast_size)},
        template=f"plan-{plan.kind}",
        why="one plan, one work",
        seconds=seconds,
        tokens=tokens,
        checks=checks,
        extra={"plan": {"id": plan.id, "template": plan.template, "cast": plan.cast_size, "steps": plan.log}},
    )
