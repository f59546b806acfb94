"""Every form family on each catalogued model, same prompts, seeds and settings, side by side in
one run: what a bigger model changes for a user, and what it does not.

For each model (`fabula models`; missing ones are installed first, verified as always):

- stories: premise relevance (MiniLM cosine of the story with its prompt), leaks of the prompt or
  of assistant chatter in the raw output (fabula.post.leaks), perplexity, seconds;
- English verse (haiku, limerick, sonnet) and Chinese verse (五言绝句, 七言绝句), constraints off
  (only asked) and on: the validator's verdict, perplexity under the model itself, seconds. The
  shipped Tang-poem model (gpt engine) writes the same Chinese titles in its own rows;
- lyrics off and on (`fabula check lyrics`'s verdict), quests (schema and graph checks),
  one screenplay planned and written level by level (screenplain parses it, scenes, speakers),
  the co-writing verbs continue and rewrite on an Austen passage (text outside the selection
  kept), and the streamer's prompt-injection rates (naive, defended, spoken);
- system prompts: on the Qwen models, stories and haiku written with the form's writing-oriented
  system prompt and with none (the model's chat template then puts in its own, a code
  assistant's), leaks and relevance compared.

The first three prompts of each family are quoted in the JSON (`examples`), chosen by rule.

    python benchmarks/models.py [--models a,b] [--families story,verse,...] [--json FILE]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fabula.backends import get_backend
from fabula.pipeline import write
from fabula.sampling import SamplingParams
from fabula.settings import get_settings

os.environ.setdefault("FABULA_HOME", str(get_settings().home))  # installed models are reused, not fetched again
sys.path.insert(0, str(Path(__file__).parent))
from verse import CHINESE_PROMPTS, PROMPTS  # noqa: E402  (the verse benchmark's own prompts)

MODELS = ["smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct"]
FAMILIES = ["story", "verse", "chinese", "lyrics", "quest", "screenplay", "verbs", "streamer", "system"]
STORIES = [
    "A lighthouse keeper finds a message in a bottle addressed to her.",
    "A retired clockmaker is asked to repair the clock that stopped on the day his wife left.",
    "Two strangers share an umbrella during a storm and discover they grew up on the same street.",
]
VERSE = {"haiku": 5, "limerick": 5, "sonnet": 3}
CHINESE = {"wujue": 5, "qijue": 3}
SONGS = 2
QUESTS = [
    "Smugglers stole the lighthouse lantern and the ships are running blind.",
    "A village well has started answering questions, always truthfully, always too late.",
    "The last dragon wants to retire and needs someone to take over its hoard.",
]
LOGLINE = "A lighthouse keeper finds a letter from her future self warning her not to light the lamp tonight."
VERB_RUNS = 3


def _ensure_installed(name: str) -> None:
    from fabula.catalog import installed_file, lookup
    from fabula.catalog.install import install

    entry = lookup(name)
    home = get_settings().home
    if installed_file(entry, home) is None:
        print(f"installing {name} ...", file=sys.stderr, flush=True)
        install(entry, home)


def _log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def _relevance(pairs: list[tuple[str, str]]) -> list[float]:
    from fabula.embeddings import embed

    vectors = embed([t for pair in pairs for t in pair])
    return [round(float(vectors[2 * i] @ vectors[2 * i + 1]), 3) for i in range(len(pairs))]


def _leaks(text: str) -> list[str]:
    from fabula.post.leaks import find_leaks

    return [f"{leak.kind}: {leak.excerpt}" for leak in find_leaks(text)]


def _row(work: Any, seconds: float) -> dict[str, Any]:
    cand = work.candidates[0]
    return {
        "text": cand.text,
        "raw": cand.completion.text,
        "ok": bool(cand.checks and cand.checks.get("ok", False)),
        "violations": (cand.checks or {}).get("violations", [])[:4],
        "perplexity": cand.scores.get("perplexity"),
        "tokens": cand.completion.completion_tokens,
        "seconds": round(seconds, 2),
        "leaks": _leaks(cand.completion.text),
    }


def _timed(call: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    out = call(*args, **kwargs)
    return out, time.perf_counter() - start


def stories(backend: Any, seed: int) -> dict[str, Any]:
    rows = []
    for i, prompt in enumerate(STORIES):
        work, seconds = _timed(write, backend, "story", prompt, {}, SamplingParams(seed=seed + i, max_tokens=250))
        rows.append({"prompt": prompt, **_row(work, seconds)})
        _log(f"story {i + 1}/{len(STORIES)} {seconds:.1f}s")
    for row, score in zip(rows, _relevance([(r["prompt"], r["text"]) for r in rows]), strict=True):
        row["relevance"] = score
    return {"rows": rows}


def asked_and_constrained(
    backend: Any, form: str, inputs: dict[str, str], prompt: str, seed: int, max_tokens: int
) -> dict[str, Any]:
    """One prompt written twice with the same seed: only asked ("off"), then constrained ("on")."""
    row: dict[str, Any] = {"prompt": prompt}
    for mode in ("off", "on"):
        params = SamplingParams(seed=seed, max_tokens=max_tokens)
        work, seconds = _timed(write, backend, form, prompt, inputs, params, constrain=mode == "on")
        row[mode] = _row(work, seconds)
    _log(f"{inputs.get('form', form)} {prompt!r} off={row['off']['ok']} on={row['on']['ok']}")
    return row


def verse(backend: Any, seed: int, forms: dict[str, int], titles: list[str]) -> dict[str, Any]:
    return {
        form: [
            asked_and_constrained(backend, "poem", {"form": form}, p, seed + i, 400)
            for i, p in enumerate(titles[:count])
        ]
        for form, count in forms.items()
    }


def lyrics(backend: Any, seed: int) -> dict[str, Any]:
    return {
        "rows": [asked_and_constrained(backend, "lyrics", {}, p, seed + i, 600) for i, p in enumerate(PROMPTS[:SONGS])]
    }


def quests(backend: Any, seed: int) -> dict[str, Any]:
    from fabula.forms.quest import check_quest

    rows = []
    for i, premise in enumerate(QUESTS):
        work, seconds = _timed(write, backend, "quest", premise, {}, SamplingParams(seed=seed + i))
        report = check_quest(work.text)
        quest = json.loads(work.text) if report["ok"] else {}
        rows.append(
            {
                "prompt": premise,
                "ok": report["ok"],
                "violations": report["violations"][:4],
                "seconds": round(seconds, 2),
                "tokens": work.candidates[0].completion.completion_tokens,
                "title": quest.get("title", ""),
                "steps": [s.get("description", "") for s in quest.get("steps", [])][:4],
                "choices": sum(len(s["choices"]) for s in quest.get("steps", [])),
            }
        )
        _log(f"quest {i + 1}/{len(QUESTS)} ok={report['ok']} {seconds:.1f}s")
    return {"rows": rows}


def screenplay(backend: Any, seed: int, engine: str) -> dict[str, Any]:
    from fabula.plan import fountain
    from fabula.plan.consistency import check_plan
    from fabula.plan.cowrite import new_plan
    from fabula.plan.entities import PlanParseError
    from fabula.plan.runner import PlanWriter

    plan = new_plan("screenplay", LOGLINE, seed=seed, engine=engine)
    start = time.perf_counter()
    try:
        PlanWriter(backend, lambda p: None).run(plan)
    except PlanParseError as exc:
        return {"rows": [{"prompt": LOGLINE, "ok": False, "error": str(exc), "seconds": time.perf_counter() - start}]}
    seconds = time.perf_counter() - start
    text = fountain.to_fountain(plan)
    parsed = fountain.check(text, plan)
    consistency = check_plan(plan)
    _log(f"screenplay {seconds:.1f}s")
    return {
        "rows": [
            {
                "prompt": LOGLINE,
                "ok": bool(parsed["parsed"] and not parsed["violations"]),
                "title": plan.title,
                "scenes": parsed.get("scenes", 0),
                "speaking_characters": len(parsed.get("speaking_characters", [])),
                "violations": consistency["violations"][:4],
                "seconds": round(seconds, 1),
                "tokens": sum(step["completion_tokens"] for step in plan.log),
                "opening": text[:600],
            }
        ]
    }


def verbs(backend: Any, seed: int) -> dict[str, Any]:
    from cowrite import chapter, selection

    from fabula.cowrite.verbs import VerbRequest, run_verb

    text = chapter(300)
    out: dict[str, Any] = {}
    for verb in ("continue", "rewrite"):
        rows = []
        for run in range(VERB_RUNS):
            start, end = selection(text, run % 2)
            cursor = (end, end) if verb == "continue" else (start, end)
            req = VerbRequest(verb, text, *cursor, instruction="tense" if verb == "rewrite" else "", n=1)
            result, seconds = _timed(run_verb, backend, req, SamplingParams(max_tokens=120), seed=seed + run)
            chosen = result.candidates[result.chosen]["text"]
            rows.append(
                {
                    "selection": text[start:end][:200],
                    "text": chosen,
                    "ok": bool(chosen.strip()),
                    "seconds": round(seconds, 2),
                    "leaks": _leaks(chosen),
                }
            )
            _log(f"{verb} {run + 1}/{VERB_RUNS} {seconds:.1f}s")
        out[verb] = rows
    return out


def streamer(backend: Any) -> dict[str, Any]:
    from streamer import injection

    return injection(backend, 1)


def system_prompts(backend: Any, seed: int) -> dict[str, Any]:
    """The form's system prompt against none (the chat template's default), unconstrained."""
    from fabula.forms import get_form
    from fabula.post.clean import clean
    from fabula.types import Request

    out: dict[str, Any] = {}
    for form_name, prompts, inputs in (("story", STORIES, {}), ("poem", PROMPTS[:3], {"form": "haiku"})):
        form = get_form(form_name)
        rows = []
        for i, prompt in enumerate(prompts):
            rendered = form.render(prompt, inputs)
            row: dict[str, Any] = {"prompt": prompt}
            for way in ("form", "none"):
                kept = [m for m in rendered.messages if way == "form" or m.role != "system"]
                params = SamplingParams(seed=seed + i, max_tokens=250)
                [completion] = backend.complete(Request(tuple(kept), rendered.completion_prompt, params))
                text = clean(completion.text, prompt=prompt).text
                row[way] = {"text": text, "raw": completion.text, "leaks": _leaks(completion.text)}
                if form_name == "poem":
                    row[way]["ok"] = form.report(text, rendered.inputs)["ok"]  # type: ignore[misc]
            rows.append(row)
            _log(f"system {form_name} {i + 1}/{len(prompts)}")
        if form_name == "story":
            pairs = [(r["prompt"], r[w]["text"]) for r in rows for w in ("form", "none")]
            scores = _relevance(pairs)
            for j, row in enumerate(rows):
                row["form"]["relevance"], row["none"]["relevance"] = scores[2 * j], scores[2 * j + 1]
        out[form_name] = rows
    return out


def run_model(name: str, families: list[str], seed: int) -> dict[str, Any]:
    _ensure_installed(name)
    settings = get_settings()
    backend = get_backend("llamacpp", name, settings)
    write(backend, "poem", "warm-up", {"form": "haiku"}, SamplingParams(seed=0))  # load the model and lexicon
    result: dict[str, Any] = {}
    for family in families:
        started = time.perf_counter()
        if family == "story":
            result[family] = stories(backend, seed)
        elif family == "verse":
            result[family] = verse(backend, seed, VERSE, PROMPTS)
        elif family == "chinese" and name != MODELS[0]:  # SmolLM2 writes no Chinese (see the README)
            result[family] = verse(backend, seed, CHINESE, CHINESE_PROMPTS)
        elif family == "lyrics":
            result[family] = lyrics(backend, seed)
        elif family == "quest":
            result[family] = quests(backend, seed)
        elif family == "screenplay":
            result[family] = screenplay(backend, seed, "llamacpp")
        elif family == "verbs":
            result[family] = verbs(backend, seed)
        elif family == "streamer":
            result[family] = streamer(backend)
        elif family == "system" and name != MODELS[0]:
            result[family] = system_prompts(backend, seed)
        _log(f"== {name} {family}: {time.perf_counter() - started:.0f}s")
    return result


def tang(seed: int) -> dict[str, Any]:
    backend = get_backend("gpt", "", get_settings())
    return {"chinese": verse(backend, seed, CHINESE, CHINESE_PROMPTS)}


# --- the tables ---------------------------------------------------------------------------------


def _med(values: list[float | None]) -> str:
    got = [v for v in values if v is not None and math.isfinite(v)]
    return f"{statistics.median(got):.1f}" if got else "-"


def _share(rows: list[dict[str, Any]], key: str = "ok") -> str:
    return f"{sum(bool(r[key]) for r in rows)}/{len(rows)}"


def tables(results: dict[str, Any]) -> str:
    names = list(results)
    out = []
    if any("story" in results[n] for n in names):
        out.append("| model | stories | premise relevance (mean) | raw outputs with a leak | perplexity | s/story |")
        out.append("|---|---|---|---|---|---|")
        for n in names:
            if rows := results[n].get("story", {}).get("rows"):
                rel = statistics.mean(r["relevance"] for r in rows)
                leaky = sum(bool(r["leaks"]) for r in rows)
                out.append(
                    f"| {n} | {len(rows)} | {rel:.3f} | {leaky}/{len(rows)} | {_med([r['perplexity'] for r in rows])} "
                    f"| {_med([r['seconds'] for r in rows])} |"
                )
        out.append("")
    for family in ("verse", "chinese", "lyrics"):
        if not any(family in results[n] for n in names):
            continue
        out.append(
            "| model | form | kept, asked | constrained | perplexity, asked | constrained "
            "| s/work, asked | constrained | leaks, asked | constrained |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|---|")
        for n in names:
            block = results[n].get(family)
            if not block:
                continue
            forms = {"lyrics": block["rows"]} if family == "lyrics" else block
            for form, rows in forms.items():
                off, on = [r["off"] for r in rows], [r["on"] for r in rows]
                out.append(
                    f"| {n} | {form} | {_share(off)} | {_share(on)} | {_med([r['perplexity'] for r in off])} "
                    f"| {_med([r['perplexity'] for r in on])} | {_med([r['seconds'] for r in off])} "
                    f"| {_med([r['seconds'] for r in on])} | {sum(bool(r['leaks']) for r in off)} "
                    f"| {sum(bool(r['leaks']) for r in on)} |"
                )
        out.append("")
    if any("quest" in results[n] for n in names):
        out.append("| model | quests valid and finishable | choices (median) | s/quest |\n|---|---|---|---|")
        for n in names:
            if rows := results[n].get("quest", {}).get("rows"):
                choices, seconds = _med([r["choices"] for r in rows]), _med([r["seconds"] for r in rows])
                out.append(f"| {n} | {_share(rows)} | {choices} | {seconds} |")
        out.append("")
    if any("screenplay" in results[n] for n in names):
        out.append("| model | screenplay parses | scenes | speaking characters | consistency violations | s |")
        out.append("|---|---|---|---|---|---|")
        for n in names:
            if rows := results[n].get("screenplay", {}).get("rows"):
                r = rows[0]
                out.append(
                    f"| {n} | {r['ok']} | {r.get('scenes', 0)} | {r.get('speaking_characters', 0)} "
                    f"| {len(r.get('violations', []))} | {r['seconds']:.0f} |"
                )
        out.append("")
    if any("verbs" in results[n] for n in names):
        out.append("| model | verb | outputs with a leak | s/call (median) |\n|---|---|---|---|")
        for n in names:
            for verb, rows in results[n].get("verbs", {}).items():
                leaky = sum(bool(r["leaks"]) for r in rows)
                out.append(f"| {n} | {verb} | {leaky}/{len(rows)} | {_med([r['seconds'] for r in rows])} |")
        out.append("")
    if any("streamer" in results[n] for n in names):
        out.append("| model | extraction naive | defended | spoken | hijack naive | defended | spoken |")
        out.append("|---|---|---|---|---|---|---|")
        for n in names:
            if block := results[n].get("streamer"):
                e, h = block["rates"]["extraction"], block["rates"]["hijack"]
                out.append(
                    f"| {n} | {e['naive']:.0%} | {e['defended']:.0%} | {e['spoken']:.0%} "
                    f"| {h['naive']:.0%} | {h['defended']:.0%} | {h['spoken']:.0%} |"
                )
        out.append("")
    if any("system" in results[n] for n in names):
        out.append(
            "| model | system prompt | stories with a leak | relevance | haiku with a leak | haiku kept (asked) |"
        )
        out.append("|---|---|---|---|---|---|")
        for n in names:
            if block := results[n].get("system"):
                for way, label in (("form", "the form's"), ("none", "none (template default)")):
                    st, hk = [r[way] for r in block["story"]], [r[way] for r in block["poem"]]
                    out.append(
                        f"| {n} | {label} | {sum(bool(r['leaks']) for r in st)}/{len(st)} "
                        f"| {statistics.mean(r['relevance'] for r in st):.3f} "
                        f"| {sum(bool(r['leaks']) for r in hk)}/{len(hk)} | {_share(hk)} |"
                    )
        out.append("")
    return "\n".join(out)


def examples(results: dict[str, Any], count: int = 3) -> str:
    """The quotes the README shows, chosen by rule: the first `count` prompts of each family, the
    constrained text where there is one, a story's first 300 characters."""
    out = []
    for name, block in results.items():
        out.append(f"### {name}\n")
        for row in block.get("story", {}).get("rows", [])[:count]:
            out.append(f"- story, {row['prompt']!r}: {' '.join(row['text'].split())[:300]}...")
        for family in ("verse", "chinese"):
            for form, rows in block.get(family, {}).items():
                for row in rows[:count]:
                    out.append(
                        f"- {form} (constrained), {row['prompt']!r}: {' / '.join(row['on']['text'].splitlines())}"
                    )
        for row in block.get("quest", {}).get("rows", [])[:count]:
            steps = f"; steps {row['steps']}" if any(row.get("steps", [])) else ""
            out.append(f"- quest, {row['prompt']!r}: {row['title']!r}{steps}")
        out.append("")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-tang", action="store_true", help="leave out the Tang-poem model's Chinese rows")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--tables", type=Path, help="only print the tables and examples of an earlier --json")
    args = parser.parse_args()
    if args.tables:
        earlier = json.loads(args.tables.read_text(encoding="utf-8"))["models"]
        print(tables(earlier) + "\n" + examples(earlier))
        return
    families = args.families.split(",")
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        parser.error(f"unknown families {unknown}; choose from {FAMILIES}")
    results: dict[str, Any] = {}
    timings: dict[str, float] = {}
    for name in args.models.split(","):
        started = time.perf_counter()
        results[name] = run_model(name, families, args.seed)
        timings[name] = round(time.perf_counter() - started)
        gc.collect()
        if args.json:  # kept after each model, so a stopped run loses at most one
            args.json.write_text(json.dumps({"models": results, "seconds": timings}, ensure_ascii=False, indent=1))
    if "chinese" in families and not args.no_tang:
        results["tang-poem (gpt)"] = tang(args.seed)
    if args.json:
        args.json.write_text(json.dumps({"models": results, "seconds": timings}, ensure_ascii=False, indent=1))
    print(tables(results) + "\n" + examples(results))


if __name__ == "__main__":
    main()
