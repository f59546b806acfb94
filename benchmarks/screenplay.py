"""Screenplays from ten loglines on the embedded model: does screenplain parse each one, how many
scenes and speaking characters does it have, what do the consistency checks find, and how long does
one take. The first screenplay is also rendered to PDF (and Fountain) as the committed example.

Each logline is planned and written level by level (title, characters, three-act beats, scenes,
places, dialogue per scene) on llama.cpp, every structured level under its JSON Schema; then the
Fountain is parsed again by screenplain and compared with the plan, trusting nothing.

    python benchmarks/screenplay.py --json benchmarks/results/screenplay.json --example examples/
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from fabula.backends import get_backend
from fabula.plan import fountain
from fabula.plan.consistency import check_plan
from fabula.plan.cowrite import export, new_plan
from fabula.plan.entities import PlanParseError
from fabula.plan.runner import PlanWriter
from fabula.settings import get_settings

LOGLINES = [
    "A lighthouse keeper finds a letter from her future self warning her not to light the lamp tonight.",
    "Two rival food-truck owners are snowed in together on the night of the city's cook-off.",
    "A retired astronaut teaches her grandson to fly a kite during the storm that grounded every plane.",
    "A museum night guard discovers that one painting changes a little every night, and it is painting him.",
    "A village choir must win a competition to save their church, but their only tenor has lost his voice.",
    "A chess prodigy and her estranged father are the last two players left in a tournament.",
    "A ghost who haunts a bookshop tries to stop it from being sold to a coffee chain.",
    "An android nanny is accused of a theft she remembers differently.",
    "Three sisters return to their mother's farm to decide whether to sell it before the harvest.",
    "A mapmaker is hired to chart an island that appears only at low tide.",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--example", type=Path, help="folder for the first screenplay as .fountain and .pdf")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--count", type=int, default=len(LOGLINES))
    args = parser.parse_args()
    backend = get_backend("llamacpp", "", get_settings())
    rows = []
    for i, logline in enumerate(LOGLINES[: args.count]):
        plan = new_plan("screenplay", logline, seed=args.seed + 1000 * i, engine="llamacpp")
        start = time.perf_counter()
        try:
            PlanWriter(backend, lambda p: None).run(plan)
        except PlanParseError as exc:  # counted as a screenplay that does not parse
            rows.append({"logline": logline, "parses": False, "error": str(exc), "scenes": 0,
                         "speaking_characters": 0, "violations": [], "retries": 0, "tokens": 0,
                         "seconds": round(time.perf_counter() - start, 1)})  # fmt: skip
            print(f"{i + 1:2}/{args.count} failed: {exc}", flush=True)
            continue
        seconds = time.perf_counter() - start
        text = fountain.to_fountain(plan)
        parsed = fountain.check(text, plan)
        consistency = check_plan(plan)
        rows.append(
            {
                "logline": logline,
                "title": plan.title,
                "parses": parsed["parsed"] and not parsed["violations"],
                "scenes": parsed.get("scenes", 0),
                "speaking_characters": len(parsed.get("speaking_characters", [])),
                "cast": len(consistency["cast"]),
                "violations": consistency["violations"],
                "warnings": consistency["warnings"],
                "retries": sum(step["attempts"] - 1 for step in plan.log),
                "tokens": sum(step["completion_tokens"] for step in plan.log),
                "seconds": round(seconds, 1),
            }
        )
        print(f"{i + 1:2}/{args.count} parses={rows[-1]['parses']} scenes={rows[-1]['scenes']} "
              f"speakers={rows[-1]['speaking_characters']} violations={len(consistency['violations'])} "
              f"{seconds:.1f}s", flush=True)  # fmt: skip
        if i == 0 and args.example:
            for suffix in (".fountain", ".pdf"):
                export(plan, args.example / f"screenplay{suffix}")
    summary = {
        "parsed_share": sum(r["parses"] for r in rows) / len(rows),
        "mean_scenes": statistics.mean(r["scenes"] for r in rows),
        "mean_speaking_characters": statistics.mean(r["speaking_characters"] for r in rows),
        "violations": sum(len(r["violations"]) for r in rows),
        "retries": sum(r["retries"] for r in rows),
        "median_seconds": statistics.median(r["seconds"] for r in rows),
        "mean_tokens": statistics.mean(r["tokens"] for r in rows),
    }
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
