"""The co-writing verbs on the embedded model, on one 2,000-word chapter (the opening of Pride and
Prejudice, from the installed Austen corpus): seconds per call and to the first token of the
first candidate (medians), and the share of calls
whose output keeps the verb's contract: shrink shorter, expand longer, text outside the selection
unchanged, brainstorm items distinct (at least five). Prints a Markdown
table and writes the JSON beside the results.

    python benchmarks/cowrite.py [--runs 5] [--json benchmarks/results/cowrite.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from fabula.backends import get_backend
from fabula.cowrite.manuscript import Document
from fabula.cowrite.verbs import VERBS, VerbRequest, run_verb
from fabula.data.austen import fetch_austen
from fabula.sampling import SamplingParams
from fabula.settings import get_settings


def chapter(words: int = 2000) -> str:
    settings = get_settings()
    folder = settings.ensure_home() / "data" / "austen"
    fetch_austen(folder)
    text = (folder / "prideprejudice.txt").read_text(encoding="utf-8")
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n") if len(p.split()) > 12]
    out, count = [], 0
    for paragraph in paragraphs:
        out.append(paragraph)
        count += len(paragraph.split())
        if count >= words:
            break
    return "\n\n".join(out) + "\n"


def selection(text: str, run: int) -> tuple[int, int]:
    """A middle paragraph, a different one each run."""
    starts = [i + 2 for i in range(len(text) - 2) if text[i : i + 2] == "\n\n"]
    start = starts[len(starts) // 3 + run]
    end = text.index("\n\n", start)
    return start, end


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    settings = get_settings()
    backend = get_backend("llamacpp", "", settings)
    text = chapter()
    params = SamplingParams(max_tokens=120)
    rows = []
    for verb in VERBS:
        seconds, first, kept = [], [], 0
        for run in range(args.runs):
            start, end = selection(text, run)
            instruction = {"rewrite": "tense", "brainstorm": "next"}.get(verb, "")
            cursor = (end, end) if verb == "continue" else (start, end)
            req = VerbRequest(verb, text, *cursor, instruction=instruction, n=3)
            began = time.perf_counter()
            try:
                result = run_verb(backend, req, params, seed=100 + run)
            except Exception as exc:  # a verb that gives up counts as a broken contract
                seconds.append(time.perf_counter() - began)
                print(f"{verb} run {run}: {exc}")
                continue
            seconds.append(time.perf_counter() - began)
            if result.candidates[0].get("first_token_s") is not None:
                first.append(result.candidates[0]["first_token_s"])
            print(f"{verb} run {run}: {seconds[-1]:.1f} s", flush=True)
            doc = Document.new("d1", "bench", text)
            ok = True
            if verb in ("continue", "rewrite", "expand", "shrink", "describe"):
                doc.apply(verb, result.start, result.end, result.candidates, result.chosen)
                outside = doc.text[: result.start] == text[: result.start] and doc.text.endswith(text[result.end :])
                ok = outside
                passage = len(text[start:end])
                if verb == "shrink":
                    ok = ok and all(len(c["text"].strip()) < passage for c in result.candidates)
                if verb == "expand":
                    ok = ok and all(len(c["text"].strip()) > passage for c in result.candidates)
            if verb == "brainstorm":
                keys = {" ".join(i.casefold().split()) for i in result.items}
                ok = len(result.items) >= 5 and len(keys) == len(result.items)
            kept += ok
        rows.append(
            {
                "verb": verb,
                "runs": args.runs,
                "median_s": round(statistics.median(seconds), 2),
                "first_token_s": round(statistics.median(first), 2) if first else None,
                "contract": f"{kept}/{args.runs}",
            }
        )
    print(f"\n{len(text.split())}-word chapter, llamacpp, SmolLM2-135M, 3 candidates per call\n")
    print("| verb | seconds per call (median) | first token, s (median) | keeps its contract |\n|---|---|---|---|")
    for row in rows:
        print(f"| {row['verb']} | {row['median_s']} | {row['first_token_s']} | {row['contract']} |")
    if args.json:
        args.json.write_text(json.dumps({"words": len(text.split()), "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
