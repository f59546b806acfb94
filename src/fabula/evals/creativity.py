"""Calibrate `--creativity`: measure diversity against perplexity for a grid of sampler presets on
the embedded model, keep the Pareto front, and pick five presets spread along it.

Creativity 0 is the most predictable preset on the front that still avoids degenerate loops;
creativity 1 is the most diverse one whose perplexity stays within Austen's own (the human
reference): beyond that, text is less likely than a human writer's and reads as noise.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fabula.evals.decoding import austen_prompts, score_continuation
from fabula.quality.metrics import ends_in_repetition, simctg_diversity
from fabula.sampling import SamplingParams
from fabula.settings import Settings

GRID = [
    {"temperature": t, "min_p": m, "top_k": 0, "top_p": 1.0}
    for t in (0.5, 0.7, 0.85, 1.0, 1.15, 1.3)
    for m in (0.2, 0.1, 0.05, 0.02)
]
LEVELS = (0.0, 0.25, 0.5, 0.75, 1.0)


def calibrate(
    settings: Settings,
    prompts: int = 8,
    max_tokens: int = 96,
    seed: int = 0,
    on_step: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Every grid point's perplexity, diversity and repetition on the Austen prompts, and the five
    presets chosen along the front; `on_step(step, done, total)` is told after each continuation."""
    from fabula.backends import get_backend
    from fabula.types import Request

    pairs = austen_prompts(settings.ensure_home(), prompts, 35, seed)
    llama = get_backend("llamacpp", "", settings)
    hf: Any = get_backend("hf", "", settings)
    tok = hf.tokenizer

    def measure(texts: list[list[int]]) -> dict[str, float]:
        nll = n = 0.0
        for (prompt, _), ids in zip(pairs, texts, strict=True):
            total, count = score_continuation(hf, tok.encode(prompt), ids)
            nll, n = nll + total, n + count
        return {
            "perplexity": round(float(2.718281828 ** (nll / n)), 3) if n else 0.0,
            "diversity": round(statistics.mean(simctg_diversity(t) for t in texts), 4),
            "repetition_pct": round(100 * sum(ends_in_repetition(t) for t in texts) / len(texts), 1),
        }

    human = measure([tok.encode(h)[:max_tokens] for _, h in pairs])
    points = []
    start = time.perf_counter()
    total = len(GRID) * len(pairs)
    for number, preset in enumerate(GRID):
        texts = []
        for i, (prompt, _) in enumerate(pairs):
            if on_step:
                label = ", ".join(f"{k} {v}" for k, v in preset.items())
                on_step(label, number * len(pairs) + i, total)
            params = SamplingParams.from_mapping(
                {**preset, "repetition_penalty": 1.0, "max_tokens": max_tokens, "seed": seed + i}
            )
            done = llama.complete(Request((), prompt, params, raw=True))[0]
            texts.append(tok.encode(done.text)[:max_tokens])
        points.append({"params": preset, **measure(texts)})
    return {
        "model": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "prompts": prompts,
        "max_tokens": max_tokens,
        "measured": time.strftime("%Y-%m-%d"),
        "seconds": round(time.perf_counter() - start, 1),
        "human": human,
        "points": points,
        "levels": choose_levels(points, human),
    }


def choose_levels(points: list[dict[str, Any]], human: dict[str, float]) -> list[dict[str, Any]]:
    """Five presets on the usable front, evenly spaced in log-perplexity from its most predictable
    to its most diverse point (usable: no text ends in a loop, perplexity within the human's)."""
    import math

    front = pareto_front(points)
    usable = [p for p in front if p["perplexity"] <= human["perplexity"] and p["repetition_pct"] == 0] or front
    usable.sort(key=lambda p: p["perplexity"])
    low, high = math.log(usable[0]["perplexity"]), math.log(usable[-1]["perplexity"])
    levels = []
    for level in LEVELS:
        target = low + level * (high - low)
        best = min(usable, key=lambda p: abs(math.log(p["perplexity"]) - target))
        levels.append({"creativity": level, **best})
    return levels


def pareto_front(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Points no other point beats on both lower perplexity and higher diversity."""
    return [
        p
        for p in points
        if not any(
            q["perplexity"] <= p["perplexity"]
            and q["diversity"] >= p["diversity"]
            and (q["perplexity"], q["diversity"]) != (p["perplexity"], p["diversity"])
            for q in points
        )
    ]


def plot(calibration: dict[str, Any], path: Path) -> Path:
    from fabula.evals.plotting import diversity_chart, save_chart

    fig, ax = diversity_chart(
        "--creativity calibration: temperature × min-p grid on SmolLM2-135M",
        "perplexity under the model (log scale): lower is more predictable",
    )
    for p in calibration["points"]:
        ax.scatter(p["perplexity"], p["diversity"], s=25, color="lightsteelblue", zorder=2)
    for level in calibration["levels"]:
        ax.scatter(level["perplexity"], level["diversity"], s=70, color="steelblue", zorder=3)
        pr = level["params"]
        ax.annotate(
            f"creativity {level['creativity']}\nt={pr['temperature']} min_p={pr['min_p']}",
            (level["perplexity"], level["diversity"]),
            textcoords="offset points",
            xytext=(6, -14),
            fontsize=7,
        )
    human = calibration["human"]
    ax.scatter(human["perplexity"], human["diversity"], s=160, marker="*", color="crimson", zorder=4)
    ax.annotate("Austen", (human["perplexity"], human["diversity"]), textcoords="offset points", xytext=(6, 4))
    return save_chart(fig, path)


def save(calibration: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(calibration, indent=1) + "\n")
