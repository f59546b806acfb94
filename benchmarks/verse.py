"""Verse-form compliance with constraints off (the model is only asked) and on (constrained
decoding), on the embedded model, measured side by side in one run.

For each form and prompt: one poem with constraints off and one with them on, same seed. Reported
per form: compliance rate (the validator's verdict), median seconds per poem, and fluency as the
median perplexity of each poem's tokens under the same model, unconstrained (the log-probabilities
the engine reports for the chosen tokens). Examples are written to the JSON output.

    python benchmarks/verse.py [--forms haiku,limerick,quatrain,sonnet] [--prompts 20] [--songs 10] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("FABULA_HOME", tempfile.mkdtemp(prefix="fabula-bench-"))

PROMPTS = [
    "autumn rain",
    "a lighthouse at night",
    "my grandmother's kitchen",
    "the first snow",
    "a city at dawn",
    "an old dog sleeping",
    "the sea in winter",
    "a train leaving the station",
    "a garden after a storm",
    "the moon over the mountains",
    "a letter never sent",
    "children playing in the street",
    "a candle in the dark",
    "the last day of summer",
    "a fox in the forest",
    "bread baking in the morning",
    "a river in spring",
    "an empty theatre",
    "stars over the desert",
    "a cat watching birds",
]


# Titles for the Chinese forms, which run on the shipped Tang-poem model (the default model writes no Chinese)
CHINESE_PROMPTS = [
    "春望", "秋思", "山行", "夜泊", "送别", "登楼", "江雪", "月夜", "边塞", "怀古",
    "春晓", "寒食", "早行", "江村", "渔父", "思乡", "竹林", "秋雨", "归雁", "晚眺",
]  # fmt: skip
CHINESE = ("wujue", "qijue", "wulv", "qilv")


def run(forms: list[str], prompts: list[str], seed: int) -> dict:
    from fabula.backends import get_backend
    from fabula.pipeline import write
    from fabula.sampling import SamplingParams
    from fabula.settings import get_settings

    results: dict = {}
    for form in forms:
        chinese = form in CHINESE
        backend = get_backend("gpt" if chinese else "llamacpp", "", get_settings())
        # warm-up: loads the model (and the English lexicon) before anything is timed
        write(backend, "poem", "warm-up", {"form": form}, SamplingParams(seed=0))
        rows = {"off": [], "on": []}
        for i, prompt in enumerate(CHINESE_PROMPTS[: len(prompts)] if chinese else prompts):
            for mode in ("off", "on"):
                params = SamplingParams(seed=seed + i, max_tokens=400)
                start = time.perf_counter()
                work = write(backend, "poem", prompt, {"form": form}, params, constrain=(mode == "on"))
                seconds = time.perf_counter() - start
                cand = work.candidates[0]
                rows[mode].append(
                    {
                        "prompt": prompt,
                        "ok": bool(cand.checks and cand.checks["ok"]),
                        "seconds": seconds,
                        "perplexity": cand.scores["perplexity"],
                        "text": cand.text,
                        "tokens": cand.completion.completion_tokens,
                        "ms_per_token": 1000 * seconds / max(cand.completion.completion_tokens, 1),
                        "violations": (cand.checks or {}).get("violations", []),
                    }
                )
            if not chinese:
                rows["on"][-1]["same_length_off_s"] = same_length_off(backend, prompt, form, seed + i, rows["on"][-1])
            print(
                f"{form:9} {i + 1:2}/{len(prompts)} off={rows['off'][-1]['ok']} on={rows['on'][-1]['ok']}",
                file=sys.stderr,
                flush=True,
            )
        results[form] = rows
    return results


def same_length_off(backend: object, prompt: str, form: str, seed: int, on: dict) -> float:
    """Seconds for the engine to write, unconstrained, as many tokens as the constrained poem has:
    the same prompt and seed on raw llama.cpp with end-of-text ignored. An unconstrained "sonnet"
    stops after about 90 tokens, so its own time is no baseline for a 14-line poem."""
    from fabula.backends.llamacpp import sampling_fields
    from fabula.forms import get_form
    from fabula.sampling import SamplingParams
    from fabula.types import Request

    rendered = get_form("poem").render(prompt, {"form": form})
    request = Request(rendered.messages, rendered.completion_prompt, SamplingParams(seed=seed, max_tokens=on["tokens"]))
    body = sampling_fields(request, seed) | {"messages": request.chat_dicts(), "ignore_eos": True}
    start = time.perf_counter()
    reply = backend._server.handle_chat_completions(body)  # type: ignore[attr-defined]
    seconds = time.perf_counter() - start
    assert reply["usage"]["completion_tokens"] == on["tokens"], reply.get("usage")
    return seconds


def songs(prompts: list[str], seed: int, folder: Path) -> dict:
    """Lyrics (constrained vs asked) for each prompt, a melody for each constrained song, and the
    exported MIDI judged by music21: parses, one lyric per syllable, stress on strong beats."""
    import music21

    from fabula.backends import get_backend
    from fabula.music.export import write_midi
    from fabula.music.melody import compose
    from fabula.music.syllables import line_syllables
    from fabula.pipeline import write
    from fabula.sampling import SamplingParams
    from fabula.settings import get_settings

    backend = get_backend("llamacpp", "", get_settings())
    rows = []
    for i, prompt in enumerate(prompts):
        row: dict = {"prompt": prompt}
        for mode in ("off", "on"):
            start = time.perf_counter()
            work = write(
                backend, "lyrics", prompt, {}, SamplingParams(seed=seed + i, max_tokens=600), constrain=(mode == "on")
            )
            row[f"seconds_{mode}"] = time.perf_counter() - start
            row[f"ok_{mode}"] = bool(work.candidates[0].checks and work.candidates[0].checks["ok"])
        tune = compose(work.text, seed=seed + i)
        midi = write_midi(tune, folder / f"song{i}.mid")
        sung = [line for line in work.text.splitlines() if line.strip() and not line.startswith("[")]
        syllables = sum(len(line_syllables(line)) for line in sung)
        notes = list(music21.converter.parse(str(midi)).recurse().notes)
        row.update(
            text=work.text,
            syllables=syllables,
            midi_notes=len(notes),
            midi_lyrics=sum(1 for n in notes if n.lyric),
            strong_beat_stress=tune.strong_beat_stress(),
        )
        rows.append(row)
        print(
            f"lyrics    {i + 1:2}/{len(prompts)} on={row['ok_on']} stress={row['strong_beat_stress']:.2f}",
            file=sys.stderr,
            flush=True,
        )
    return {"rows": rows}


def song_summary(result: dict) -> str:
    rows = result["rows"]
    exact = sum(r["midi_lyrics"] == r["syllables"] == r["midi_notes"] for r in rows)
    shares = [r["strong_beat_stress"] for r in rows]
    return (
        "| songs | lyrics compliance off | on | s/song off | s/song on | MIDI parsed by music21 | "
        "lyric events = syllables | strong-beat stress (median, min) |\n|---|---|---|---|---|---|---|---|\n"
        f"| {len(rows)} | {sum(r['ok_off'] for r in rows)}/{len(rows)} | {sum(r['ok_on'] for r in rows)}/{len(rows)} | "
        f"{statistics.median(r['seconds_off'] for r in rows):.2f} | "
        f"{statistics.median(r['seconds_on'] for r in rows):.2f} | {len(rows)}/{len(rows)} | {exact}/{len(rows)} | "
        f"{statistics.median(shares):.0%}, {min(shares):.0%} |\n"
    )


def summary(results: dict) -> str:
    lines = [
        "| form | compliance off | compliance on | s/poem off | s/poem on | s/poem off, same length | "
        "on ÷ off, same length | ms/token off | ms/token on | perplexity off | perplexity on |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for form, rows in results.items():
        off, on = rows["off"], rows["on"]

        def rate(rs: list) -> str:
            return f"{sum(r['ok'] for r in rs)}/{len(rs)}"

        def med(rs: list, key: str) -> float:
            values = [r[key] for r in rs if r[key] is not None]
            return statistics.median(values) if values else float("nan")

        same = [r for r in on if r.get("same_length_off_s")]
        ratio = statistics.median(r["seconds"] / r["same_length_off_s"] for r in same) if same else float("nan")
        same_s = statistics.median(r["same_length_off_s"] for r in same) if same else float("nan")
        lines.append(
            f"| {form} | {rate(off)} | {rate(on)} | {med(off, 'seconds'):.2f} | {med(on, 'seconds'):.2f} | "
            f"{same_s:.2f} | {ratio:.2f} | {med(off, 'ms_per_token'):.1f} | {med(on, 'ms_per_token'):.1f} | "
            f"{med(off, 'perplexity'):.1f} | {med(on, 'perplexity'):.1f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forms", default="haiku,limerick,quatrain,sonnet")
    parser.add_argument("--prompts", type=int, default=20)
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--json", type=Path, help="write every poem and verdict here")
    parser.add_argument("--songs", type=int, default=10, help="lyrics with melodies to write (0: none)")
    args = parser.parse_args()
    results = run(args.forms.split(","), PROMPTS[: args.prompts], args.seed) if args.forms else {}
    if args.songs:
        results["songs"] = songs(PROMPTS[: args.songs], args.seed, Path(tempfile.mkdtemp(prefix="fabula-songs-")))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, ensure_ascii=False))
    if "songs" in results:
        print(song_summary(results.pop("songs")))
    print(summary(results))


if __name__ == "__main__":
    main()
