"""The leak check on what the embedded model really wrote: every text stored in `results/*.json`
(verse, songs, Chinese verse, quests, NPC trees, bios, stories) and the hand-labelled fixture.

For the stored outputs it reports, per source, how many texts the check flags and of which kinds,
and lists each flagged line so a person can read them (the README says what that reading found).
For the fixture it reports recall per kind and false alarms on the clean controls.

    .venv/bin/python benchmarks/leaks.py --out benchmarks/results/leaks.json
"""

from __future__ import annotations

import argparse
import json
import tomllib
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from fabula.post.leaks import find_leaks

HERE = Path(__file__).parent
TEXT_KEYS = {"text", "reply", "script", "output", "work", "line", "lines", "content"}


def stored_texts() -> list[tuple[str, str]]:
    """(source file, text) for every generated text the stored benchmark results hold."""
    out: list[tuple[str, str]] = []

    def walk(node: Any, source: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str) and key in TEXT_KEYS and len(value) > 15:
                    out.append((source, value))
                else:
                    walk(value, source)
        elif isinstance(node, list):
            for value in node:
                walk(value, source)

    for path in sorted((HERE / "results").glob("*.json")):
        if path.name != "leaks.json":
            walk(json.loads(path.read_text(encoding="utf-8")), path.stem)
    return out


def fixture_scores() -> dict[str, Any]:
    fixture = tomllib.loads((HERE.parent / "tests" / "fixtures" / "leaks.toml").read_text(encoding="utf-8"))
    labelled: Counter[str] = Counter()
    found: Counter[str] = Counter()
    for example in fixture["leaked"]:
        kinds = {leak.kind for leak in find_leaks(example["text"])}
        for kind in example["kinds"]:
            labelled[kind] += 1
            found[kind] += kind in kinds
    false_alarms = sum(bool(find_leaks(example["text"])) for example in fixture["clean"])
    return {
        "recall": {kind: f"{found[kind]}/{labelled[kind]}" for kind in sorted(labelled)},
        "clean_controls": len(fixture["clean"]),
        "false_alarms": false_alarms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    texts = stored_texts()
    per_source: dict[str, Counter[str]] = defaultdict(Counter)
    flagged: list[dict[str, Any]] = []
    for source, text in texts:
        per_source[source]["texts"] += 1
        leaks = find_leaks(text)
        if leaks:
            per_source[source]["flagged"] += 1
            for kind in {leak.kind for leak in leaks}:
                per_source[source][kind] += 1
            flagged.append({"source": source, "leaks": [[leak.kind, leak.excerpt] for leak in leaks]})
    result = {
        "stored_outputs": {source: dict(counts) for source, counts in sorted(per_source.items())},
        "total": {"texts": len(texts), "flagged": len(flagged)},
        "flagged": flagged,
        "fixture": fixture_scores(),
    }
    print("| source | texts | flagged | kinds |")
    print("|---|---|---|---|")
    for source, counts in sorted(per_source.items()):
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if k not in ("texts", "flagged"))
        print(f"| {source} | {counts['texts']} | {counts['flagged']} | {kinds or '-'} |")
    print(f"\n{len(flagged)} of {len(texts)} stored outputs flagged; fixture: {result['fixture']}")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
