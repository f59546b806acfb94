"""Originality index: build time and size on the full corpora, detection of planted copies, false
flags on fresh generations of the embedded model, and query time per work.

    python benchmarks/originality.py --json benchmarks/results/originality.json

Planted passages are 80-word windows of Austen, lightly edited (one word in `rate` replaced by
another word, case and punctuation changed) and set inside a fresh generation, and whole Tang and
Song poems of 32 to 120 characters with one character in `rate` replaced. Fresh generations are
the embedded model's stories and poems on 100 prompts: any flag on them counts as a false flag.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fabula.backends import get_backend
from fabula.data.austen import fetch_austen
from fabula.data.poetry import fetch_poetry
from fabula.responsible.originality import report
from fabula.responsible.reference import open_shards
from fabula.sampling import SamplingParams
from fabula.settings import Settings
from fabula.types import Message, Request

SUBJECTS = [
    "a lighthouse keeper",
    "a lost dog",
    "a clockmaker",
    "two sisters",
    "a dragon who hates fire",
    "a night train",
    "a baker's apprentice",
    "an old sailor",
    "a robot gardener",
    "a haunted library",
    "a circus at the edge of town",
    "a girl who collects storms",
    "a retired spy",
    "a village under snow",
    "a chess match",
    "a forgotten violin",
    "a desert caravan",
    "a market in spring",
    "a ghost who is shy",
    "the last bookshop",
    "a moon colony",
    "a fisherman's daughter",
    "a broken compass",
    "a thief with a conscience",
    "a wedding in the rain",
]
FORMS = [
    "Write a short story about {}.",
    "Write a poem about {}.",
    "Describe a scene with {}.",
    "Tell a fable about {}.",
]
REPLACEMENTS = "river lantern copper violet marble thunder orchard velvet hollow ember saffron meadow".split()


def edit_words(words: list[str], rate: int, rng: random.Random) -> list[str]:
    """Replace one word in `rate` (at random places), then vary case and punctuation."""
    out = list(words)
    for _ in range(max(1, len(words) // rate)):
        out[rng.randrange(len(out))] = rng.choice(REPLACEMENTS)
    return [w.upper() if rng.random() < 0.05 else w.strip(".,;:!?") if rng.random() < 0.3 else w for w in out]


def edit_chars(text: str, rate: int, rng: random.Random) -> str:
    chars = list(text)
    han = [i for i, c in enumerate(chars) if "\u4e00" <= c <= "\u9fff"]
    for i in rng.sample(han, max(1, len(han) // rate)):
        chars[i] = rng.choice("春秋风月山水花鸟云雨")
    return "".join(chars)


def austen_passages(home: Path, count: int, rng: random.Random) -> list[str]:
    folder = home / "data" / "austen"
    manifest = fetch_austen(folder)
    words = []
    for book in manifest["books"].values():
        words.extend((folder / book["file"]).read_text(encoding="utf-8").split())
    starts = rng.sample(range(len(words) - 100), count)
    return [" ".join(words[s : s + 80]) for s in starts]


def poems(home: Path, count: int, rng: random.Random) -> list[str]:
    fetch_poetry(home / "data" / "poetry")
    chosen = []
    for name in ("tang", "song"):
        lines = (home / "data" / "poetry" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        while len(chosen) < count * (1 if name == "tang" else 2) // 2:
            text = "".join(json.loads(rng.choice(lines))["lines"])
            if 32 <= len(text) <= 120:
                chosen.append(text)
    return chosen


def generate(settings: Settings, count: int) -> list[str]:
    backend = get_backend("llamacpp", "", settings)
    texts = []
    for i in range(count):
        prompt = FORMS[i % len(FORMS)].format(SUBJECTS[i % len(SUBJECTS)])
        params = SamplingParams(temperature=0.8, top_p=0.95, max_tokens=160, seed=1000 + i)
        texts.append(backend.complete(Request((Message("user", prompt),), prompt, params))[0].text.strip())
        print(f"  generated {i + 1}/{count}", file=sys.stderr, end="\r")
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, help="A FABULA_HOME with the corpora (fetched when missing).")
    parser.add_argument("--fresh", type=int, default=100)
    parser.add_argument("--planted", type=int, default=100)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rng = random.Random(0)
    home = args.home or Path(tempfile.mkdtemp(prefix="fabula-bench-"))
    settings = Settings(home=home)
    passages = austen_passages(home, args.planted, rng)
    verse = poems(home, args.planted // 2, rng)

    scratch = Path(tempfile.mkdtemp(prefix="fabula-index-"))  # a fresh index: time the whole build
    (scratch / "data").symlink_to(home / "data")
    started = time.perf_counter()
    shards, _ = open_shards(scratch)
    build_s = time.perf_counter() - started
    size = sum(p.stat().st_size for p in (scratch / "originality").rglob("*") if p.is_file())
    build = {
        "seconds": round(build_s, 1),
        "bytes": size,
        "sources": [{k: s.meta[k] for k in ("name", "documents", "tokens", "build_s")} for s in shards],
    }
    print(f"index: {build['seconds']} s, {size / 2**20:.0f} MiB", file=sys.stderr)

    fresh = generate(settings, args.fresh)
    query_s: list[float] = []

    def check(text: str) -> dict:
        t0 = time.perf_counter()
        out = report(text, shards)
        query_s.append(time.perf_counter() - t0)
        return out

    fresh_reports = [check(t) for t in fresh]
    false_flags = [
        {"text": t, "spans": r["flagged_spans"]} for t, r in zip(fresh, fresh_reports, strict=True) if r["flagged"]
    ]
    planted = {}
    for rate in (40, 25, 15, 10):
        hits = 0
        for i, passage in enumerate(passages):
            host = fresh[i % len(fresh)]
            half = len(host) // 2
            text = host[:half] + " " + " ".join(edit_words(passage.split(), rate, rng)) + " " + host[half:]
            hits += check(text)["flagged"]
        verse_hits = sum(check(edit_chars(p, rate, rng))["flagged"] for p in verse)
        planted[f"1 in {rate}"] = {
            "austen_detected": hits,
            "austen_planted": len(passages),
            "verse_detected": verse_hits,
            "verse_planted": len(verse),
        }
        print(f"edit 1/{rate}: austen {hits}/{len(passages)}, verse {verse_hits}/{len(verse)}", file=sys.stderr)
    result = {
        "build": build,
        "fresh": {
            "texts": len(fresh),
            "flagged": len(false_flags),
            "median_score": statistics.median(r["score"] for r in fresh_reports),
            "median_longest_span": statistics.median(r["longest_span_tokens"] for r in fresh_reports),
            "max_longest_span": max(r["longest_span_tokens"] for r in fresh_reports),
            "false_flags": false_flags,
        },
        "planted": planted,
        "query_seconds": {"median": round(statistics.median(query_s), 4), "max": round(max(query_s), 4)},
        "policy": fresh_reports[0]["policy"],
    }
    summary = {k: v for k, v in result["fresh"].items() if k != "false_flags"}
    print(json.dumps({k: v for k, v in result.items() if k != "fresh"} | {"fresh": summary}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n")
    shutil.rmtree(scratch)


if __name__ == "__main__":
    main()
