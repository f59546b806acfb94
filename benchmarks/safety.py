"""Safety classifier: precision and recall on the labelled fixture, at the default policy.

    python benchmarks/safety.py --json benchmarks/results/safety.json

The fixture (tests/fixtures/safety.jsonl) has 281 items: 81 of benign dark fiction (villains, war,
crime, drugs), 45 everyday and 27 tricky benign texts, 120 unsafe ones in nine categories, and 8 of
gore. The same items are then run through the streamer's chat policy (stricter: chat is not fiction),
and every paragraph of Austen's six novels and of Moby-Dick (installed from Debian packages) through
the default policy: published prose that no reader would block.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import novels

from fabula.evals.safety import evaluate, read_fixture
from fabula.responsible.safety import SafetyPolicy
from fabula.stream.live import audience_policy

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
    chat = evaluate(rows, audience_policy())
    result["chat"] = {"block": chat["block"], "by_kind": chat["by_kind"], "mistakes": chat["mistakes"]}
    print(f"\nin the streamer's chat: block precision {chat['block']['precision']}, recall {chat['block']['recall']}")
    for kind, row in chat["by_kind"].items():
        print(f"{kind}: {row['blocked']} of {row['items']} blocked")
    result["prose"] = prose_false_blocks()
    for name, row in result["prose"].items():
        print(f"{name}: {row['blocked']} of {row['paragraphs']} paragraphs blocked {row['categories']}")
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n")


def prose_false_blocks() -> dict[str, dict[str, object]]:
    """Paragraphs of published novels blocked by the default policy, per book collection."""
    policy = SafetyPolicy()
    out: dict[str, dict[str, object]] = {}
    for name, paragraphs in novels.paragraphs().items():
        verdicts = [policy.check(p) for p in paragraphs]
        categories = Counter(c for v in verdicts for c in v["categories"])
        blocked = sum(v["blocked"] for v in verdicts)
        out[name] = {"paragraphs": len(paragraphs), "blocked": blocked, "categories": dict(categories)}
    return out


if __name__ == "__main__":
    main()
