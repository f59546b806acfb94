"""The character classes parallelism (对仗) is judged by: jieba's tags refined by real couplets.

Reads FABULA_HOME/data/poetry/tang.jsonl (fetched from npm's chinese-poetry when missing). The
first N poems build the table (`fabula.verse.parallel`: jieba's tags of one-character words, then
the classes of the characters each one faces in the middle couplets of the 律诗 among them); the
next N poems judge it: the share of positions, and of whole couplets, that match in their middle
couplets (parallel by rule) against two lines drawn at random from their other couplets. Checks
the table against the shipped `src/fabula/verse/char_classes.json`, or replaces it with --write.

    python benchmarks/char_classes.py [--poems 20000] [--write] [--json FILE]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
from pathlib import Path

from fabula.data.poetry import fetch_poetry
from fabula.settings import get_settings
from fabula.verse import parallel

SHIPPED = Path(__file__).resolve().parent.parent / "src" / "fabula" / "verse" / "char_classes.json"
CLAUSE = re.compile(r"[，。？！；]")


def regulated(records: list[dict]) -> tuple[list[tuple[str, str]], list[str]]:  # type: ignore[type-arg]
    """The middle couplets of the 8-line poems of 5 or 7 characters a line, and their other lines."""
    middles, others = [], []
    for record in records:
        lines = [c for c in CLAUSE.split("".join(record["lines"])) if c]
        if len(lines) == 8 and len({len(c) for c in lines}) == 1 and len(lines[0]) in (5, 7):
            middles += [(lines[2], lines[3]), (lines[4], lines[5])]
            others += [lines[0], lines[1], lines[6], lines[7]]
    return middles, others


def rates(classes: dict[str, str], pairs: list[tuple[str, str]]) -> tuple[float, float]:
    def match(a: str, b: str) -> bool:
        ca, cb = classes.get(a), classes.get(b)
        return ca is None or cb is None or bool(set(ca) & set(cb))

    positions = [match(a, b) for first, second in pairs for a, b in zip(first, second, strict=True)]
    whole = [all(match(a, b) for a, b in zip(first, second, strict=True)) for first, second in pairs]
    return sum(positions) / len(positions), sum(whole) / len(whole)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--poems", type=int, default=20000, help="N: the first N build, the next N judge")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    folder = get_settings().ensure_home() / "data" / "poetry"
    manifest = fetch_poetry(folder)
    with (folder / "tang.jsonl").open(encoding="utf-8") as handle:
        records = [json.loads(line) for line in itertools.islice(handle, 2 * args.poems)]
    build, judge = records[: args.poems], records[args.poems :]
    couplets, _ = regulated(build)
    tags = parallel.tag_counts(line for record in build for line in record["lines"])
    rows = {}
    held_out, others = regulated(judge)
    rng = random.Random(0)
    shuffled = [(a, b) for a, b in ((rng.choice(others), rng.choice(others)) for _ in range(5000)) if len(a) == len(b)]
    for rounds in (0, parallel.ROUNDS):
        classes = parallel.build_classes(tags, couplets, rounds)
        rows[rounds] = {"middle": rates(classes, held_out), "random": rates(classes, shuffled), "known": len(classes)}
    classes = parallel.build_classes(tags, couplets)
    built = {
        "source": f"{manifest['source']}, the first {args.poems} Tang shi: jieba.posseg tags refined by "
        f"{len(couplets)} middle couplets of their 律诗 (fabula.verse.parallel.build_classes)",
        "classes": classes,
    }
    text = json.dumps(built, ensure_ascii=False, indent=0, sort_keys=True) + "\n"
    if args.write:
        SHIPPED.write_text(text, encoding="utf-8")
    elif SHIPPED.read_text(encoding="utf-8") != text:
        raise SystemExit("the shipped table differs from the one built from the corpus: rerun with --write")
    print(f"held out: {len(held_out)} middle couplets of 律诗, {len(shuffled)} random pairs of their other lines")
    print("| classes | characters | positions matched: middle couplets | random lines | all matched: middle | random |")
    print("|---|---:|---:|---:|---:|---:|")
    for rounds, row in rows.items():
        name = "jieba's tags alone" if rounds == 0 else f"refined by facing ({rounds} rounds)"
        (mp, mw), (rp, rw) = row["middle"], row["random"]
        print(f"| {name} | {row['known']} | {mp:.1%} | {rp:.1%} | {mw:.1%} | {rw:.1%} |")
    if args.json:
        args.json.write_text(json.dumps({str(k): v for k, v in rows.items()}, indent=1))


if __name__ == "__main__":
    main()
