"""`fabula eval bias`: do outputs change with a name's gender or origin when nothing else does?

Every occupation is crossed with names of two genders and six origins (`bias_probes.toml`). Each
output is scored for sentiment (VADER's compound score, -1..1), role (agentic minus communal words
per 100 words) and whether it keeps the occupation it was given. For every group we report the
mean and its gap to the mean over all names with a bootstrap 95% interval; the same seed is used
for every name of an occupation, so a gap comes from the name alone (and from sampling noise,
which the interval shows).
"""

from __future__ import annotations

import random
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from statistics import fmean
from typing import Any

from fabula.backends.base import Backend
from fabula.sampling import SamplingParams
from fabula.types import Message, Request

WORD = re.compile(r"[a-z']+")


@dataclass(frozen=True)
class Probe:
    occupation: str
    name: str
    gender: str
    origin: str
    prompt: str


def load_probes(names_per_cell: int = 2, occupations: int | None = None) -> tuple[list[Probe], dict[str, Any]]:
    data = tomllib.loads(resources.files("fabula.evals").joinpath("bias_probes.toml").read_text("utf-8"))
    probes = []
    for occupation in data["occupations"][:occupations]:
        for gender, origins in data["names"].items():
            for origin, names in origins.items():
                for name in names[:names_per_cell]:
                    prompt = data["template"].format(name=name, occupation=occupation)
                    probes.append(Probe(occupation, name, gender, origin, prompt))
    return probes, data["roles"]


def score_text(text: str, occupation: str, roles: dict[str, list[str]], analyzer: Any) -> dict[str, float]:
    words = WORD.findall(text.lower())
    agentic = sum(w in set(roles["agentic"]) for w in words)
    communal = sum(w in set(roles["communal"]) for w in words)
    per100 = 100 / max(len(words), 1)
    return {
        "sentiment": float(analyzer.polarity_scores(text)["compound"]),
        "role": (agentic - communal) * per100,
        "keeps_occupation": float(occupation.split()[-1] in text.lower()),
    }


def _bootstrap_gap(values: list[float], overall: float, rng: random.Random, rounds: int = 1000) -> list[float]:
    means = sorted(fmean(rng.choices(values, k=len(values))) - overall for _ in range(rounds))
    return [round(means[int(0.025 * rounds)], 4), round(means[int(0.975 * rounds) - 1], 4)]


def summarise(rows: list[dict[str, Any]], seed: int = 0) -> dict[str, Any]:
    """Per gender, origin and gender x origin: means, gaps to the overall mean, 95% intervals."""
    rng = random.Random(seed)
    metrics = ("sentiment", "role", "keeps_occupation")
    overall = {m: fmean(r[m] for r in rows) for m in metrics}
    groups: list[dict[str, Any]] = []
    keys: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("gender", lambda r: r["gender"]),
        ("origin", lambda r: r["origin"]),
        ("gender x origin", lambda r: f"{r['gender']} {r['origin']}"),
    ]
    for axis, key in keys:
        for value in sorted({key(r) for r in rows}):
            members = [r for r in rows if key(r) == value]
            entry: dict[str, Any] = {"axis": axis, "group": value, "n": len(members)}
            for m in metrics:
                vals = [r[m] for r in members]
                entry[m] = round(fmean(vals), 4)
                entry[f"{m}_gap"] = round(fmean(vals) - overall[m], 4)
                entry[f"{m}_gap_ci95"] = _bootstrap_gap(vals, overall[m], rng)
            groups.append(entry)
    spread = {}
    for axis in ("gender", "origin"):
        members = [g for g in groups if g["axis"] == axis]
        spread[axis] = {m: round(max(g[m] for g in members) - min(g[m] for g in members), 4) for m in metrics}
    return {"overall": {m: round(v, 4) for m, v in overall.items()}, "groups": groups, "spread": spread}


def run(
    backend: Backend,
    probes: list[Probe],
    roles: dict[str, list[str]],
    max_tokens: int = 80,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    occupations = sorted({p.occupation for p in probes})
    rows = []
    for i, probe in enumerate(probes):
        params = SamplingParams(
            temperature=0.8, top_p=0.95, max_tokens=max_tokens, seed=seed + occupations.index(probe.occupation)
        )
        request = Request((Message("user", probe.prompt),), probe.prompt, params)
        text = backend.complete(request)[0].text.strip()
        rows.append({**probe.__dict__, "text": text, **score_text(text, probe.occupation, roles, analyzer)})
        if progress:
            progress(i + 1, len(probes))
    model = {k: v for k, v in backend.model_info().items() if k != "path"}  # results travel: no local paths
    return {"engine": backend.name, "model": model, "rows": rows, **summarise(rows, seed)}


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "| axis | group | n | sentiment | gap [95% CI] | role (agentic−communal /100 words) | gap [95% CI] "
        "| keeps occupation |",
        "|---|---|---:|---:|---|---:|---|---:|",
    ]
    for g in result["groups"]:
        if g["axis"] == "gender x origin":
            continue
        s_ci = g["sentiment_gap_ci95"]
        r_ci = g["role_gap_ci95"]
        lines.append(
            f"| {g['axis']} | {g['group']} | {g['n']} | {g['sentiment']:+.3f} | {g['sentiment_gap']:+.3f} "
            f"[{s_ci[0]:+.3f}, {s_ci[1]:+.3f}] | {g['role']:+.2f} | {g['role_gap']:+.2f} "
            f"[{r_ci[0]:+.2f}, {r_ci[1]:+.2f}] | {g['keeps_occupation']:.0%} |"
        )
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> Path:
    """Gaps to the overall mean per group, with their 95% intervals: sentiment and role side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fabula.evals.plotting import save_chart

    groups = [g for g in result["groups"] if g["axis"] != "gender x origin"]
    labels = [g["group"] for g in groups]
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.45 * len(groups) + 1.8), dpi=120, sharey=True)
    for ax, metric, title in (
        (axes[0], "sentiment", "sentiment gap (VADER)"),
        (axes[1], "role", "role gap (agentic − communal)"),
    ):
        gaps = [g[f"{metric}_gap"] for g in groups]
        low = [g[f"{metric}_gap"] - g[f"{metric}_gap_ci95"][0] for g in groups]
        high = [g[f"{metric}_gap_ci95"][1] - g[f"{metric}_gap"] for g in groups]
        colors = ["#c0504d" if g["axis"] == "gender" else "#4f81bd" for g in groups]
        ax.barh(range(len(groups)), gaps, xerr=[low, high], color=colors, alpha=0.8, capsize=3)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_title(title)
        ax.grid(True, axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(groups)), labels)
    axes[0].invert_yaxis()
    fig.suptitle(f"Bias probes on {result['model'].get('name', result['engine'])}: gap to the mean of all names")
    return save_chart(fig, path)
