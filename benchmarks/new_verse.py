"""Ci by tune, acrostics, couplets and parallel 律诗: compliance with constraints off and on, side by side.

For each form, 20 prompts of our own, each written twice with the same seed: once only asked
(constraints off: the model continues its prompt freely and the validator judges what comes) and
once under the form's constraint. Chinese forms run on the shipped Tang-poem model (gpt engine),
ci also on the shipped ci model (the Tang model fine-tuned on the Song ci, `configs/song-ci.toml`),
the English acrostic on the embedded default model. Reported per form: compliance off and on, the
median seconds per poem, the median perplexity of the chosen tokens under the model itself, and
for the parallel forms the median share of positions whose character classes match.

    python benchmarks/new_verse.py [--prompts 20] [--json benchmarks/results/new_verse.json]
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
from typing import Any

os.environ.setdefault("FABULA_HOME", tempfile.mkdtemp(prefix="fabula-bench-"))

TITLES = [
    "春晚", "秋夜", "江上", "山居", "别友", "登高", "雪夜", "月下", "边城", "怀人",
    "晓行", "渔歌", "故园", "竹院", "秋雨", "归舟", "晚晴", "梅花", "柳岸", "夜雨",
]  # fmt: skip
TUNES = ["如梦令", "浣溪沙", "菩萨蛮", "卜算子", "清平乐", "蝶恋花", "西江月", "水调歌头"]
HEADS = [
    "春风得意", "花好月圆", "山高水长", "一帆风顺", "万事如意", "青山不老", "明月清风", "天涯海角",
    "白云深处", "江南好景", "秋水长天", "四海为家", "千里共月", "心想事成", "岁岁平安", "金玉满堂",
    "风雨同舟", "高山流水", "海阔天空", "春华秋实",
]  # fmt: skip
FIRST_LINES = [
    "海阔凭鱼跃", "春风吹绿柳", "明月照高岸", "青山含远黛", "白雪覆千岭", "江流天地外", "孤舟行远浦",
    "落花随水去", "清风摇翠柏", "一蓑烟雨里", "细雨湿衣看不见", "千里莺啼花似锦", "山光悦鸟性",
    "晚风吹散天边月", "古寺钟声远", "小楼一夜听春雨", "秋水共长天一色", "春色满园关不住", "竹影扫阶尘不动",
    "松间明月照",
]  # fmt: skip
WORDS = [
    "MOON", "RAIN", "HOME", "SNOW", "STAR", "WIND", "ROSE", "SEA", "TIME", "LOVE",
    "HOPE", "TREE", "FIRE", "DAWN", "BIRD", "LAKE", "SONG", "GOLD", "NIGHT", "SUN",
]  # fmt: skip
SUBJECTS = [
    "the night sky", "a summer storm", "coming home", "the first snow", "a distant star", "the autumn wind",
    "a garden rose", "the open sea", "an old clock", "a wedding", "spring", "an oak in winter", "a campfire",
    "sunrise", "a sparrow", "a mountain lake", "a lullaby", "a harvest field", "the city at night", "noon",
]  # fmt: skip


def cases(n: int) -> list[tuple[str, str, str, dict[str, str]]]:
    """(row name, engine, prompt, inputs) for every poem of the run."""
    out: list[tuple[str, str, str, dict[str, str]]] = []
    for i in range(n):
        ci = {"form": "ci", "cipai": TUNES[i % len(TUNES)]}
        out.append(("ci, Tang model", "gpt", TITLES[i], ci))
        out.append(("ci, ci model", "gpt-ci", TITLES[i], ci))
        shape = "wujue" if i % 2 == 0 else "qijue"
        out.append(("acrostic (藏头诗)", "gpt", HEADS[i], {"form": "acrostic", "head": HEADS[i], "shape": shape}))
        out.append(("couplet, second line", "gpt", "对联", {"form": "couplet", "first": FIRST_LINES[i]}))
        out.append(("couplet, both lines", "gpt", TITLES[i], {"form": "couplet", "length": "5" if i % 2 else "7"}))
        out.append(("律诗 (parallel)", "gpt", TITLES[i], {"form": "wulv" if i % 2 == 0 else "qilv"}))
        out.append(("acrostic (English)", "llamacpp", SUBJECTS[i], {"form": "acrostic", "head": WORDS[i]}))
    return out


def parallel_share(checks: dict[str, Any] | None) -> float | None:
    if not checks or "parallel" not in checks:
        return None
    reports = checks["parallel"].values() if "颔联" in checks["parallel"] else [checks["parallel"]]
    shares = [r["matched_share"] for r in reports]
    return min(shares) if shares else None


def run(n: int, seed: int) -> dict[str, dict[str, list[dict[str, Any]]]]:
    from fabula.backends import get_backend
    from fabula.pipeline import write
    from fabula.sampling import SamplingParams
    from fabula.settings import get_settings

    models = {"gpt": ("gpt", "tang-poems"), "gpt-ci": ("gpt", "song-ci"), "llamacpp": ("llamacpp", "")}
    backends = {name: get_backend(engine, model, get_settings()) for name, (engine, model) in models.items()}
    for name, backend in backends.items():  # load each model (and the English lexicon) before timing
        inputs = {"form": "wujue"} if name.startswith("gpt") else {"form": "acrostic", "head": "AB"}
        write(backend, "poem", "warm-up", inputs, SamplingParams(seed=0))
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    per_prompt = len(cases(1))
    for i, (row, engine, prompt, inputs) in enumerate(cases(n)):
        for mode in ("off", "on"):
            # one seed per prompt: the rows of a prompt (the two ci models) are written under the same seed
            params = SamplingParams(seed=seed + i // per_prompt, max_tokens=400, temperature=0.8)
            start = time.perf_counter()
            work = write(backends[engine], "poem", prompt, inputs, params, constrain=(mode == "on"))
            seconds = time.perf_counter() - start
            cand = work.candidates[0]
            results.setdefault(row, {"off": [], "on": []})[mode].append(
                {
                    "prompt": prompt,
                    "inputs": inputs,
                    "ok": bool(cand.checks and cand.checks["ok"]),
                    "seconds": seconds,
                    "perplexity": cand.scores["perplexity"],
                    "parallel": parallel_share(cand.checks),
                    "text": cand.text,
                    "violations": (cand.checks or {}).get("violations", [])[:3],
                }
            )
        print(f"{row:22} {i // per_prompt + 1:2}/{n} on={results[row]['on'][-1]['ok']}", file=sys.stderr, flush=True)
    return results


def summary(results: dict[str, dict[str, list[dict[str, Any]]]]) -> str:
    lines = [
        "| form | compliance off | compliance on | s/poem off | s/poem on | perplexity off | perplexity on | "
        "parallel positions off | on |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def med(rows: list[dict[str, Any]], key: str) -> str:
        values = [r[key] for r in rows if r[key] is not None]
        return f"{statistics.median(values):.2f}" if values else "-"

    for row, modes in results.items():
        off, on = modes["off"], modes["on"]
        lines.append(
            f"| {row} | {sum(r['ok'] for r in off)}/{len(off)} | {sum(r['ok'] for r in on)}/{len(on)} | "
            f"{med(off, 'seconds')} | {med(on, 'seconds')} | {med(off, 'perplexity')} | {med(on, 'perplexity')} | "
            f"{med(off, 'parallel')} | {med(on, 'parallel')} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=20)
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = run(min(args.prompts, len(TITLES)), args.seed)
    table = summary(results)
    print(table)
    if args.json:
        args.json.write_text(json.dumps({"summary": table, "results": results}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
