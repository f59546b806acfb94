"""Facts kept, on what the embedded model really writes: product descriptions and news summaries.

    python benchmarks/facts.py --json benchmarks/results/facts.json

Ten products of our own (each with countable facts: sizes, counts, materials) and the first ten
Reuters articles (Debian's r-cran-tm) are written once each with the embedded model, seed 0..9
(summaries at the digest's temperature, 0.5).
For every work it records whether its first sample invented a number or a name (the pipeline then
sampled it again, at most twice), whether the final text passed, the claims flagged, and the
seconds it took. Every flagged claim is listed so a person can read whether it was really
invented; the README gives that reading.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from fabula.backends import get_backend
from fabula.data.reuters import articles
from fabula.pipeline import write
from fabula.post.facts import describe, unsupported
from fabula.sampling import SamplingParams
from fabula.settings import Settings

PRODUCTS = [
    "A writing desk of walnut with three drawers and a leather top.",
    "A handmade ceramic coffee mug, 350 ml, speckled glaze, dishwasher safe.",
    "A brass ship's lantern, 30 cm tall, oil burning, hand polished.",
    "A wool blanket, 150 by 200 cm, woven in Wales, two colours: grey and cream.",
    "A set of six linen napkins, 45 cm square, washed soft, natural colour.",
    "A cast-iron frying pan, 26 cm, pre-seasoned, works on induction.",
    "A children's picture book, 32 pages, about a fox who learns to swim, for ages 3 to 6.",
    "A folding oak stool, 45 cm high, holds 120 kg, oiled finish.",
    "A fountain pen with a steel nib, a cartridge converter and a blue resin body.",
    "A pack of 12 beeswax candles, each burns 8 hours, unscented.",
]
CHECK = {"product": "facts", "summary": "faithful"}


def run_one(backend: Any, form: str, prompt: str, seed: int) -> dict[str, Any]:
    inputs = {"words": "60"} if form == "product" else {"words": "40"}
    # a summary at the digest's own settings (temperature 0.5); a product at the defaults
    params = SamplingParams(max_tokens=160, seed=seed, **({"temperature": 0.5} if form == "summary" else {}))
    started = time.perf_counter()
    work = write(backend, form, prompt, inputs, params)
    seconds = time.perf_counter() - started
    redone = [r for r in work.provenance.get("resampled", []) if r["defect"].startswith(CHECK[form])]
    return {
        "form": form,
        "seed": seed,
        "source": prompt[:300],
        "text": work.text,
        "first_invented": bool(redone)
        or any(v["check"] == CHECK[form] and not v["passed"] for v in work.chosen.verdicts),
        "resampled": len(redone),
        "defects": [r["defect"] for r in redone],
        "passed_facts": all(v["passed"] for v in work.chosen.verdicts if v["check"] == CHECK[form]),
        "final_claims": describe(unsupported(work.text, prompt)),
        "seconds": round(seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="fabula-bench-"))
    settings = Settings(home=home, database_url=f"sqlite:///{home}/f.db")
    backend = get_backend("llamacpp", "", settings)
    news = [f"{a['title']}. {a['text']}" for a in articles(home / "data" / "reuters")[:10]]
    rows = [run_one(backend, "product", p, seed) for seed, p in enumerate(PRODUCTS)]
    rows += [run_one(backend, "summary", a, seed) for seed, a in enumerate(news)]
    summary: dict[str, Any] = {}
    for form in ("product", "summary"):
        mine = [r for r in rows if r["form"] == form]
        summary[form] = {
            "works": len(mine),
            "first_sample_invented": sum(r["first_invented"] for r in mine),
            "facts_kept_after_resampling": sum(r["passed_facts"] for r in mine),
            "seconds_per_work": round(sum(r["seconds"] for r in mine) / len(mine), 2),
        }
        print(form, summary[form])
    for r in rows:
        for defect in r["defects"]:
            print(f"  {r['form']} seed {r['seed']}: {defect}")
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "rows": rows}, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()
