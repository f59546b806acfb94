"""The green-list watermark on the embedded model: true positives on 100- and 200-token outputs,
false positives on human text (Austen passages and Tang poems), the cost in perplexity, and what
a paraphrase-like edit does to the score.

Stories are written on llama.cpp with `--watermark` (stepped sampling, top 64, δ added to green
tokens) and without it (llama.cpp's own sampler), same prompts and seeds. Detection re-tokenises the
text with the model's tokenizer, as `fabula watermark detect` does: the detector never sees the
generated token ids.

    python benchmarks/watermark.py --json benchmarks/results/watermark.json
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import tempfile
import time
from pathlib import Path

from fabula.backends import get_backend
from fabula.cli.watermark import load_tokenizer
from fabula.pipeline import write
from fabula.responsible.watermark import score_ids
from fabula.sampling import SamplingParams
from fabula.settings import get_settings

KEY = "benchmark key: not a secret"
PROMPTS = [
    "a fox who collects keys", "a lighthouse keeper's last night", "the bakery that opens at midnight",
    "a robot learning to paint", "two rivals stuck in a lift", "a letter found in a library book",
    "the village that forgot its name", "a detective who is afraid of the dark", "a storm over the harbour",
    "the last train of the year",
]  # fmt: skip


def human_texts(home: Path, count: int) -> list[tuple[str, str]]:
    """(source, text): Austen passages of about 150 words, and Tang poems, from the shipped corpora."""
    from fabula.data.austen import fetch_austen
    from fabula.data.poetry import fetch_poetry, poems

    austen = fetch_austen(home / "data" / "austen")
    words: list[str] = []
    for book in austen["books"].values():
        words += (home / "data" / "austen" / book["file"]).read_text(encoding="utf-8").split()
    rng = random.Random(0)
    out = [("austen", " ".join(words[i : i + 150])) for i in sorted(rng.sample(range(len(words) - 150), count))]
    fetch_poetry(home / "data" / "poetry")
    tang = ["\n".join(p["lines"]) for p in poems(home / "data" / "poetry", "tang")]
    out += [("tang", text) for text in rng.sample(tang, count // 2)]
    return out


def paraphrase_like(text: str, share: float, rng: random.Random) -> str:
    """Replace `share` of the words with a neighbour's word: a crude stand-in for paraphrase."""
    words = text.split()
    for i in rng.sample(range(len(words)), int(len(words) * share)):
        words[i] = words[rng.randrange(len(words))]
    return " ".join(words)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--stories", type=int, default=40)
    parser.add_argument("--human", type=int, default=1000, help="Austen passages (plus half as many Tang poems)")
    args = parser.parse_args()
    settings = get_settings()
    backend = get_backend("llamacpp", "", settings)
    tokenizer = load_tokenizer("")
    rows = []
    for i in range(args.stories):
        prompt = PROMPTS[i % len(PROMPTS)]
        row: dict = {"prompt": prompt, "seed": i}
        for mode, key in (("marked", KEY), ("plain", None)):
            params = SamplingParams(seed=i, max_tokens=200)
            start = time.perf_counter()
            work = write(backend, "story", prompt, {"length": "medium"}, params, watermark_key=key)
            completion = work.candidates[0].completion
            ids = list(tokenizer.encode(completion.text, add_special_tokens=False))
            lps = completion.token_logprobs or ()
            row[mode] = {
                "tokens": len(ids),
                "seconds": round(time.perf_counter() - start, 2),
                "z_100": score_ids(ids[:100], KEY)["z"],
                "z_200": score_ids(ids[:200], KEY)["z"],
                "perplexity": round(math.exp(-statistics.mean(lps)), 2) if lps else None,
                "text": completion.text,
            }
        rng = random.Random(i)
        for share in (0.1, 0.25, 0.5):
            edited = paraphrase_like(row["marked"]["text"], share, rng)
            row["marked"][f"z_edit_{int(share * 100)}"] = score_ids(tokenizer.encode(edited)[:200], KEY)["z"]
        rows.append(row)
        print(f"{i + 1:3}/{args.stories} z marked {row['marked']['z_200']:.1f}, plain {row['plain']['z_200']:.1f}",
              flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:
        home = settings.home if (settings.home / "data").exists() else Path(scratch)
        humans = human_texts(home, args.human)
    human_z = [(src, score_ids(tokenizer.encode(t, add_special_tokens=False)[:200], KEY)["z"]) for src, t in humans]

    def rate(values: list[float]) -> float:
        return sum(v >= 4.0 for v in values) / len(values)

    marked = [r["marked"] for r in rows]
    plain = [r["plain"] for r in rows]
    summary = {
        "tpr_100": rate([m["z_100"] for m in marked if m["tokens"] >= 100]),
        "tpr_200": rate([m["z_200"] for m in marked if m["tokens"] >= 180]),
        "marked_at_100": sum(m["tokens"] >= 100 for m in marked),
        "marked_at_200": sum(m["tokens"] >= 180 for m in marked),
        "fpr_plain_generations": rate([p["z_200"] for p in plain]),
        "fpr_austen": rate([z for s, z in human_z if s == "austen"]),
        "fpr_tang": rate([z for s, z in human_z if s == "tang"]),
        "human_texts": len(human_z),
        "max_human_z": max(z for _, z in human_z),
        "median_z_marked_200": statistics.median(m["z_200"] for m in marked),
        "median_z_plain_200": statistics.median(p["z_200"] for p in plain),
        "perplexity_marked": statistics.median(m["perplexity"] for m in marked if m["perplexity"]),
        "perplexity_plain": statistics.median(p["perplexity"] for p in plain if p["perplexity"]),
        "seconds_marked": statistics.median(m["seconds"] for m in marked),
        "seconds_plain": statistics.median(p["seconds"] for p in plain),
        **{f"tpr_after_{k}pct_words_swapped": rate([m[f"z_edit_{k}"] for m in marked]) for k in (10, 25, 50)},
    }
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
