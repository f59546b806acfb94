"""Safety classifier: precision and recall on the labelled fixture, at the default policy.

    python benchmarks/safety.py --json benchmarks/results/safety.json

The fixture (tests/fixtures/safety.jsonl) has 226 items: 70 of benign dark fiction (villains, war,
crime), 40 everyday and 20 tricky benign texts, 88 unsafe ones in seven categories, and 8 of gore.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from fabula.evals.safety import evaluate, read_fixture

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "safety.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = read_fixture(FIXTURE)
    started = time.perf_counter()
    result = evaluate(rows)
    result["ms_per_item"] = round(1000 * (time.perf_counter() - started) / len(rows), 3)
    print("| category | items | precision | recall | blocks by default |")
    print("|---|---:|---:|---:|---|")
    for name, row in result["categories"].items():
        print(f"| {name} | {row['items']} | {row['precision']} | {row['recall']} | {row['blocked_by_default']} |")
    print(f"\nblock decision: precision {result['block']['precision']}, recall {result['block']['recall']}")
    for kind, row in result["by_kind"].items():
        print(f"{kind}: {row['blocked']} of {row['items']} blocked")
    print(f"{result['ms_per_item']} ms per item")
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()
