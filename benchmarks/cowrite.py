"""The co-writing verbs on the embedded model, on one 2,000-word chapter (the opening of Pride and
Prejudice, from the installed Austen corpus): seconds per call and to the first token of the
first candidate (medians), and the share of calls
whose output keeps the verb's contract: shrink shorter, expand longer, text outside the selection
unchanged, brainstorm items distinct (at least five). Prints a Markdown
table and writes the JSON beside the results.

    python benchmarks/cowrite.py [--runs 5] [--json benchmarks/results/cowrite.json]

`--session` times a writing session instead: twenty verb calls working down the same chapter
(four paragraphs, each rewritten, expanded, shrunk and described, then two continuations at the
end, a brainstorm and feedback), 3 candidates a call, on two engines loaded side by side, one
with llama.cpp prompt reuse and one prefilling every prompt cold, the calls interleaved; every
candidate's text must come out the same on both.

    python benchmarks/cowrite.py --session [--json benchmarks/results/cowrite_session.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace
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


def session_calls(text: str) -> list[VerbRequest]:
    """The session: four consecutive paragraphs from a third of the way in, each through the
    four editing verbs, then continue twice at the end, a brainstorm and feedback on the last."""
    calls = []
    for run in range(4):
        start, end = selection(text, run)
        for verb in ("rewrite", "expand", "shrink", "describe"):
            calls.append(VerbRequest(verb, text, start, end, instruction="tense" if verb == "rewrite" else "", n=3))
    calls += [VerbRequest("continue", text, len(text), len(text), n=3) for _ in range(2)]
    calls.append(VerbRequest("brainstorm", text, len(text), len(text), instruction="next", n=3))
    calls.append(VerbRequest("feedback", text, start, end, n=3))
    return calls


def outputs(result: object) -> list[object]:
    """Everything a call gives the writer: each candidate's text, the list, the critique."""
    return [[c["text"] for c in result.candidates], result.items, result.feedback]  # type: ignore[attr-defined]


def session(args: argparse.Namespace) -> None:
    from fabula.backends.llamacpp import LlamaCppBackend

    settings = get_settings()
    engines = {
        "cold": LlamaCppBackend("", settings.model_copy(update={"llamacpp_cache_prompt": False})),
        "reuse": LlamaCppBackend("", settings.model_copy(update={"llamacpp_cache_prompt": True})),
    }
    text = chapter()
    params = SamplingParams(max_tokens=120)
    rows = []
    for i, req in enumerate(session_calls(text)):
        row: dict[str, object] = {"call": i + 1, "verb": req.verb, "selection": [req.start, req.end]}
        results = {}
        for name in ("cold", "reuse") if i % 2 == 0 else ("reuse", "cold"):  # interleaved
            began = time.perf_counter()
            result = run_verb(engines[name], replace(req), params, seed=200 + i)
            row[f"{name}_s"] = round(time.perf_counter() - began, 2)
            results[name] = outputs(result)
        row["same"] = results["cold"] == results["reuse"]
        rows.append(row)
        print(f"{i + 1:2} {req.verb:10} cold {row['cold_s']:6.2f} s  reuse {row['reuse_s']:6.2f} s  same {row['same']}")
    cold = sum(float(r["cold_s"]) for r in rows)  # type: ignore[arg-type]
    reuse = sum(float(r["reuse_s"]) for r in rows)  # type: ignore[arg-type]
    same = sum(bool(r["same"]) for r in rows)
    words = len(text.split())
    print(f"\n{len(rows)} calls on a {words}-word chapter: cold {cold:.1f} s, with prompt reuse {reuse:.1f} s")
    print(f"({reuse / cold:.2f} of the time); outputs identical in {same}/{len(rows)} calls")
    if args.json:
        summary = {"cold_s": round(cold, 1), "reuse_s": round(reuse, 1), "ratio": round(reuse / cold, 3)}
        args.json.write_text(json.dumps({"words": words, "rows": rows, **summary}, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--session", action="store_true", help="time a twenty-call session with and without reuse")
    args = parser.parse_args()
    if args.session:
        session(args)
        return
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
