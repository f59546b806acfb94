"""Continuity, measured: the planted-contradiction fixture, and five-chapter stories written on the
embedded model with and without the story so far (same plans, same seeds, side by side).

Part 1 reads `tests/fixtures/continuity`: for each planted manuscript, which planted
contradictions `fabula continuity check` finds (recall per kind), and whether it raises any
alarm on the clean controls.

Part 2 plans each logline once (title, cast, five-act beats, scenes) and then writes its five
chapters twice from the same plan and seeds: once with each chapter given only its own beat and
the bible (`context=off`, as before), once told the story so far (`context=on`: the summaries of
the chapters before, and how the last one ended). For each it reports

- cross-chapter repetition: distinct 8-word runs a chapter shares with an earlier one, per
  1,000 words (the prompt now holds earlier text, so copying it is the risk to watch);
- callbacks: the share of chapters 2-5 that name a character or place named in an earlier
  chapter;
- contradictions the ledger finds in the final text, and the problems left unresolved after
  the bounded retries;
- relevance, as Re3/DOC ask it: the embedding similarity (MiniLM cosine) of each chapter to its
  beat's summary and to the logline;
- wall time per story.

    .venv/bin/python benchmarks/continuity.py --out benchmarks/results/continuity.json --screenplays 3

Part 3 (`--screenplays N`) writes N screenplays of five scenes the same two ways and reports the
same repetition figure, on each scene's action and lines.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from fabula.continuity.checks import KINDS
from fabula.continuity.extract import find_names
from fabula.continuity.manuscript import units_from_texts
from fabula.continuity.repetition import repeated_per_thousand
from fabula.continuity.report import check_manuscript
from fabula.plan import continuity
from fabula.plan.cowrite import new_plan
from fabula.plan.model import TOP_LEVELS, Plan
from fabula.plan.runner import PlanWriter

HERE = Path(__file__).parent
FIXTURES = HERE.parent / "tests" / "fixtures" / "continuity"
LOGLINES = [
    "A lighthouse keeper finds a bottle washed ashore with a letter addressed to her.",
    "Two rival bakers are snowed in together on the night before the village fair.",
    "A retired astronaut teaches her grandson to fly a kite during a storm.",
    "A museum night guard notices that one painting changes a little every night.",
    "A village choir must win a contest to save their church, but their tenor has lost his voice.",
    "A chess prodigy and her estranged father meet in the final of a tournament.",
    "A ghost who haunts a bookshop tries to stop it from being sold.",
    "A young doctor arrives on an island where nobody has been ill for a hundred years.",
    "Three sisters return to their mother's farm to decide whether to sell it.",
    "A mapmaker is hired to chart an island that appears only at low tide.",
]


def fixture_scores() -> dict[str, Any]:
    planted: Counter[str] = Counter()
    found: Counter[str] = Counter()
    extra = []
    for manifest in sorted(FIXTURES.glob("*.toml")):
        expected = {(p["kind"], p["entity"], p["chapter"]) for p in tomllib.loads(manifest.read_text())["planted"]}
        text = manifest.with_suffix(".md").read_text(encoding="utf-8")
        got = {(c["kind"], c["entity"], c["second"]["chapter"]) for c in check_manuscript(text)["contradictions"]}
        for kind, _, _ in expected:
            planted[kind] += 1
        for kind, _, _ in expected & got:
            found[kind] += 1
        extra += [f"{manifest.stem}: {g}" for g in sorted(got - expected)]
    controls = sorted(FIXTURES.glob("control_*.md"))
    alarms = {c.stem: len(check_manuscript(c.read_text(encoding="utf-8"))["contradictions"]) for c in controls}
    return {
        "recall": {kind: f"{found[kind]}/{planted[kind]}" for kind in KINDS},
        "unplanted_reports": extra,
        "controls": len(controls),
        "false_alarms": sum(alarms.values()),
    }


def _plan_once(backend: Any, logline: str, seed: int, kind: str = "story") -> Plan:
    plan = new_plan(kind, logline, template="five-act", cast=3, seed=seed, context=False)
    writer = PlanWriter(backend, lambda p: None)
    for step in TOP_LEVELS:
        writer.write_step(plan, step)
    return plan


def _chapters(backend: Any, base: Plan, context: bool) -> tuple[Plan, float]:
    plan = Plan.from_dict(base.to_dict())
    plan.context = context
    started = time.perf_counter()
    PlanWriter(backend, lambda p: None).run(plan)
    return plan, time.perf_counter() - started


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def measure(plan: Plan, seconds: float) -> dict[str, Any]:
    from fabula.embeddings import embed

    chapters = [str(plan.units[i]) for i in sorted(plan.units)]
    units = units_from_texts(chapters)
    cast = [c.name for c in plan.characters or ()]
    callbacks = 0
    for k in range(1, len(chapters)):
        earlier = set(find_names(units[:k], cast))
        callbacks += any(name in chapters[k] for name in earlier)
    beats = [s.summary for s in plan.scenes or ()]
    vectors = embed([*chapters, *beats, plan.logline])
    n = len(chapters)
    report = continuity.report(plan)
    unresolved = [p for e in plan.log if e.get("unresolved") for p in e["unresolved"]]
    return {
        "words": sum(len(c.split()) for c in chapters),
        "repeated_8grams_per_1000_words": round(repeated_per_thousand(chapters), 2),
        "callback_share": round(callbacks / max(n - 1, 1), 2),
        "contradictions": [f"{c['kind']}: {c['detail']}" for c in report["contradictions"]],
        "unresolved": unresolved,
        "attempts": sum(e.get("attempts", 0) for e in plan.log if str(e.get("step", "")).startswith("prose[")),
        "beat_relevance": round(statistics.mean(_cosine(vectors[i], vectors[n + i]) for i in range(n)), 3),
        "logline_relevance": round(statistics.mean(_cosine(vectors[i], vectors[-1]) for i in range(n)), 3),
        "seconds": round(seconds, 1),
        "summaries": [plan.summaries[i]["text"] for i in sorted(plan.summaries)],
        "chapters": chapters,
    }


def screenplay_repetition(backend: Any, count: int, seed: int) -> dict[str, Any]:
    """The same repetition figure for screenplays: each scene's action and lines, off and on."""
    rows = []
    for i, logline in enumerate(LOGLINES[:count]):
        base = _plan_once(backend, logline, seed + i, kind="screenplay")
        row: dict[str, Any] = {"logline": logline}
        for mode, context in (("off", False), ("on", True)):
            plan, seconds = _chapters(backend, base, context)
            scenes = [continuity.raw_text(plan.units[k]) for k in sorted(plan.units)]
            row[mode] = {
                "repeated_8grams_per_1000_words": round(repeated_per_thousand(scenes), 2),
                "contradictions": len(continuity.report(plan)["contradictions"]),
                "seconds": round(seconds, 1),
            }
        rows.append(row)
        print(f"screenplay {i + 1}/{count}: {json.dumps(row)}")
    return {
        mode: {
            "repeated_8grams_per_1000_words": round(
                statistics.mean(r[mode]["repeated_8grams_per_1000_words"] for r in rows), 2
            ),
            "contradictions": sum(r[mode]["contradictions"] for r in rows),
        }
        for mode in ("off", "on")
    } | {"screenplays": rows}


def _table(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in ("off", "on"):
        got = [r[mode] for r in rows]
        out[mode] = {
            "repeated_8grams_per_1000_words": round(
                statistics.mean(g["repeated_8grams_per_1000_words"] for g in got), 2
            ),
            "callback_share": round(statistics.mean(g["callback_share"] for g in got), 2),
            "contradictions": sum(len(g["contradictions"]) for g in got),
            "unresolved": sum(len(g["unresolved"]) for g in got),
            "beat_relevance": round(statistics.mean(g["beat_relevance"] for g in got), 3),
            "logline_relevance": round(statistics.mean(g["logline_relevance"] for g in got), 3),
            "seconds_per_story": round(statistics.median(g["seconds"] for g in got), 1),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--count", type=int, default=len(LOGLINES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fixture-only", action="store_true")
    parser.add_argument("--screenplays", type=int, default=0, help="also N screenplays (five scenes), off and on")
    parser.add_argument("--screenplays-only", action="store_true", help="add the screenplays to an existing --out")
    args = parser.parse_args()
    if args.screenplays_only:
        from fabula.backends import get_backend
        from fabula.settings import get_settings

        result = json.loads(args.out.read_text(encoding="utf-8"))
        backend = get_backend("llamacpp", "", get_settings())
        result["screenplay_table"] = screenplay_repetition(backend, args.screenplays or 3, args.seed)
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        return
    result = {"fixture": fixture_scores()}
    print(json.dumps(result["fixture"], indent=1))
    if not args.fixture_only:
        from fabula.backends import get_backend
        from fabula.settings import get_settings

        backend = get_backend("llamacpp", "", get_settings())
        rows = []
        for i, logline in enumerate(LOGLINES[: args.count]):
            base = _plan_once(backend, logline, args.seed + i)
            row: dict[str, Any] = {"logline": logline, "title": base.title}
            for mode, context in (("off", False), ("on", True)):  # interleaved: same load for both
                plan, seconds = _chapters(backend, base, context)
                row[mode] = measure(plan, seconds)
            rows.append(row)
            print(
                f"{i + 1}/{args.count} {logline[:50]}: "
                + json.dumps(
                    {m: {k: v for k, v in row[m].items() if k not in ("chapters", "summaries")} for m in ("off", "on")}
                )
            )
        result["model"] = {k: v for k, v in backend.model_info().items() if k != "path"}  # no local path
        result["table"] = _table(rows)
        result["stories"] = rows
        print(json.dumps(result["table"], indent=1))
        if args.screenplays:
            result["screenplay_table"] = screenplay_repetition(backend, args.screenplays, args.seed)
    if args.out:
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
