"""Verse-form compliance with constraints off (the model is only asked) and on (constrained
decoding), on the embedded model, measured side by side in one run.

For each form and prompt: one poem with constraints off and one with them on, same seed. Reported
per form: compliance rate (the validator's verdict), median seconds per poem, and fluency as the
median perplexity of each poem's tokens under the same model, unconstrained (the log-probabilities
the engine reports for the chosen tokens). Examples are written to the JSON output.

    python benchmarks/verse.py [--forms haiku,limerick,quatrain,sonnet] [--prompts 20] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("FABULA_HOME", tempfile.mkdtemp(prefix="fabula-bench-"))

PROMPTS = [
    "autumn rain",
    "a lighthouse at night",
    "my grandmother's kitchen",
    "the first snow",
    "a city at dawn",
    "an old dog sleeping",
    "the sea in winter",
    "a train leaving the station",
    "a garden after a storm",
    "the moon over the mountains",
    "a letter never sent",
    "children playing in the street",
    "a candle in the dark",
    "the last day of summer",
    "a fox in the forest",
    "bread baking in the morning",
    "a river in spring",
    "an empty theatre",
    "stars over the desert",
    "a cat watching birds",
]


def run(forms: list[str], prompts: list[str], seed: int) -> dict:
    from fabula.backends import get_backend
    from fabula.pipeline import write
    from fabula.sampling import SamplingParams
    from fabula.settings import get_settings

    backend = get_backend("llamacpp", "", get_settings())
    write(backend, "poem", "warm-up", {"form": "haiku"}, SamplingParams(seed=0))  # loads the lexicon too
    results: dict = {}
    for form in forms:
        rows = {"off": [], "on": []}
        for i, prompt in enumerate(prompts):
            for mode in ("off", "on"):
                params = SamplingParams(seed=seed + i, max_tokens=400)
                start = time.perf_counter()
                work = write(backend, "poem", prompt, {"form": form}, params, constrain=(mode == "on"))
                seconds = time.perf_counter() - start
                cand = work.candidates[0]
                rows[mode].append(
                    {
                        "prompt": prompt,
                        "ok": bool(cand.checks and cand.checks["ok"]),
                        "seconds": seconds,
                        "perplexity": cand.scores["perplexity"],
                        "text": cand.text,
                        "tokens": cand.completion.completion_tokens,
                        "ms_per_token": 1000 * seconds / max(cand.completion.completion_tokens, 1),
                        "violations": (cand.checks or {}).get("violations", []),
                    }
                )
            print(
                f"{form:9} {i + 1:2}/{len(prompts)} off={rows['off'][-1]['ok']} on={rows['on'][-1]['ok']}",
                file=sys.stderr,
                flush=True,
            )
        results[form] = rows
    return results


def summary(results: dict) -> str:
    lines = [
        "| form | compliance off | compliance on | s/poem off | s/poem on | ms/token off | ms/token on | "
        "perplexity off | perplexity on |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for form, rows in results.items():
        off, on = rows["off"], rows["on"]

        def rate(rs: list) -> str:
            return f"{sum(r['ok'] for r in rs)}/{len(rs)}"

        def med(rs: list, key: str) -> float:
            values = [r[key] for r in rs if r[key] is not None]
            return statistics.median(values) if values else float("nan")

        lines.append(
            f"| {form} | {rate(off)} | {rate(on)} | {med(off, 'seconds'):.2f} | {med(on, 'seconds'):.2f} | "
            f"{med(off, 'ms_per_token'):.1f} | {med(on, 'ms_per_token'):.1f} | {med(off, 'perplexity'):.1f} | "
            f"{med(on, 'perplexity'):.1f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forms", default="haiku,limerick,quatrain,sonnet")
    parser.add_argument("--prompts", type=int, default=20)
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--json", type=Path, help="write every poem and verdict here")
    args = parser.parse_args()
    results = run(args.forms.split(","), PROMPTS[: args.prompts], args.seed)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False))
    print(summary(results))


if __name__ == "__main__":
    main()
