"""`fabula eval decoding`: the shape of Holtzman et al. 2020, Table 1, on the embedded model.

Prompts are the openings of paragraphs from Persuasion (held out: a novel no fabula model trains
on), and the human row is how Austen went on. Sampling methods run on llama.cpp in plain
continuation mode; beam and contrastive search run on the same weights in Transformers. Every
text, human or generated, is scored by the fp32 Transformers model, so perplexities compare.
"""

from __future__ import annotations

import json
import math
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fabula.quality.metrics import (
    distinct_n,
    ends_in_repetition,
    self_bleu4,
    simctg_diversity,
    words,
    zipf_coefficient,
)
from fabula.sampling import SamplingParams
from fabula.settings import Settings

NEUTRAL = {"top_k": 0, "top_p": 1.0, "min_p": 0.0, "typical_p": 1.0, "repetition_penalty": 1.0}
SAMPLERS: dict[str, dict[str, float]] = {
    "greedy": {"temperature": 0.0},
    "pure": {"temperature": 1.0},
    "temperature_0.9": {"temperature": 0.9},
    "top_k_40": {"temperature": 1.0, "top_k": 40},
    "top_k_640": {"temperature": 1.0, "top_k": 640},
    "top_k_40_t0.7": {"temperature": 0.7, "top_k": 40},
    "top_p_0.95": {"temperature": 1.0, "top_p": 0.95},
    "typical_0.95": {"temperature": 1.0, "typical_p": 0.95},
    "min_p_0.1": {"temperature": 1.0, "min_p": 0.1},
}
METHODS = [
    "greedy",
    "beam",
    "pure",
    "temperature_0.9",
    "top_k_40",
    "top_k_640",
    "top_k_40_t0.7",
    "top_p_0.95",
    "typical_0.95",
    "min_p_0.1",
    "contrastive",
    "human",
]


@dataclass(frozen=True)
class EvalConfig:
    prompts: int = 32
    max_tokens: int = 200
    prompt_words: int = 35
    beams: int = 8
    contrastive_k: int = 5
    contrastive_alpha: float = 0.6
    seed: int = 0

    @classmethod
    def quick(cls) -> EvalConfig:
        return cls(prompts=8, max_tokens=64, beams=4)


def austen_prompts(home: Path, count: int, prompt_words: int, seed: int) -> list[tuple[str, str]]:
    """(prompt, human continuation) pairs from Persuasion's longer paragraphs, spread evenly."""
    from fabula.data.austen import fetch_austen

    folder = home / "data" / "austen"
    fetch_austen(folder)
    text = (folder / "persuasion.txt").read_text(encoding="utf-8")
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n")]
    long = [p for p in paragraphs if len(p.split()) >= prompt_words + 150]
    random.Random(seed).shuffle(long)
    chosen = long[:count]
    return [(" ".join(p.split()[:prompt_words]), " " + " ".join(p.split()[prompt_words:])) for p in chosen]


def run(settings: Settings, config: EvalConfig, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    from fabula.backends import get_backend
    from fabula.evals.search import beam_search, contrastive_search
    from fabula.types import Request

    pairs = austen_prompts(settings.ensure_home(), config.prompts, config.prompt_words, config.seed)
    llama = get_backend("llamacpp", "", settings)
    hf: Any = get_backend("hf", "", settings)  # its model and tokenizer are used directly
    tokenizer = hf.tokenizer
    texts: dict[str, list[list[int]]] = {name: [] for name in METHODS}
    seconds: dict[str, float] = {}
    for name in METHODS:
        start = time.perf_counter()
        for i, (prompt, human) in enumerate(pairs):
            prompt_ids = tokenizer.encode(prompt)
            if name == "human":
                ids = tokenizer.encode(human)[: config.max_tokens]
            elif name == "beam":
                ids = beam_search(
                    hf.model,
                    prompt_ids,
                    config.beams,
                    config.max_tokens,
                    tokenizer.eos_token_id,
                )
            elif name == "contrastive":
                ids = contrastive_search(
                    hf.model,
                    prompt_ids,
                    config.contrastive_k,
                    config.contrastive_alpha,
                    config.max_tokens,
                    hf.eos_ids,
                    hf._cache_name,
                )
            else:
                params = SamplingParams.from_mapping(
                    {**NEUTRAL, **SAMPLERS[name], "max_tokens": config.max_tokens, "seed": config.seed + i}
                )
                done = llama.complete(Request((), prompt, params, raw=True))[0]
                ids = tokenizer.encode(done.text)[: config.max_tokens]
            texts[name].append(ids)
        seconds[name] = time.perf_counter() - start
        if progress:
            progress(name)
    rows = [_row(name, texts[name], [p for p, _ in pairs], hf, tokenizer, seconds[name]) for name in METHODS]
    return {
        "config": config.__dict__,
        "rows": rows,
        "examples": {name: tokenizer.decode(texts[name][0]) for name in METHODS},
        "prompt_example": pairs[0][0] if pairs else "",
        # every continuation, so a metric can be computed again without decoding again
        "texts": {name: [tokenizer.decode(ids) for ids in texts[name]] for name in METHODS},
    }


def _row(name: str, texts: list[list[int]], prompts: list[str], hf: Any, tokenizer: Any, seconds: float) -> dict:
    nll, count = 0.0, 0
    for prompt, ids in zip(prompts, texts, strict=True):
        total, n = score_continuation(hf, tokenizer.encode(prompt), ids)
        nll, count = nll + total, count + n
    decoded = [tokenizer.decode(ids) for ids in texts]
    return {
        "method": name,
        "perplexity": round(math.exp(nll / count), 3) if count else None,
        "self_bleu4": round(self_bleu4([words(t) for t in decoded]), 4),
        "zipf": round(zipf_coefficient(texts), 4),
        "repetition_pct": round(100 * sum(ends_in_repetition(ids) for ids in texts) / len(texts), 2),
        "distinct_1": round(statistics.mean(distinct_n(ids, 1) for ids in texts), 4),
        "distinct_2": round(statistics.mean(distinct_n(ids, 2) for ids in texts), 4),
        "diversity": round(statistics.mean(simctg_diversity(ids) for ids in texts), 4),
        "tokens": round(statistics.mean(len(ids) for ids in texts), 1),
        "seconds": round(seconds, 2),
    }


def score_continuation(hf: Any, prompt: list[int], continuation: list[int]) -> tuple[float, int]:
    """Summed negative log-likelihood of `continuation` after `prompt`, and its token count."""
    import torch

    if not continuation:
        return 0.0, 0
    ids = torch.tensor([prompt + continuation])
    with torch.inference_mode():
        logits = hf.model(input_ids=ids).logits[0, len(prompt) - 1 : -1].float()  # [C, V]
    logp = logits.log_softmax(-1).gather(1, torch.tensor(continuation)[:, None])[:, 0]
    return float(-logp.sum()), len(continuation)


def markdown(result: dict[str, Any]) -> str:
    head = (
        "| method | perplexity | Self-BLEU-4 | Zipf | repetition % | distinct-1 | distinct-2 | diversity | "
        "tokens | seconds |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in result["rows"]:
        lines.append(
            f"| {r['method']} | {r['perplexity']} | {r['self_bleu4']} | {r['zipf']} | {r['repetition_pct']} | "
            f"{r['distinct_1']} | {r['distinct_2']} | {r['diversity']} | {r['tokens']} | {r['seconds']} |"
        )
    return "\n".join(lines) + "\n"


def plot(result: dict[str, Any], path: Path) -> Path:
    """Diversity against perplexity, one point per method, human marked."""
    from fabula.evals.plotting import diversity_chart, save_chart

    config = result["config"]
    fig, ax = diversity_chart(
        f"Decoding methods on SmolLM2-135M: {config['prompts']} Austen prompts, {config['max_tokens']} tokens"
    )
    for r in result["rows"]:
        if r["perplexity"] is None:
            continue
        human = r["method"] == "human"
        ax.scatter(
            r["perplexity"],
            r["diversity"],
            s=140 if human else 50,
            marker="*" if human else "o",
            color="crimson" if human else "steelblue",
            zorder=3,
        )
        ax.annotate(
            r["method"], (r["perplexity"], r["diversity"]), textcoords="offset points", xytext=(6, 4), fontsize=8
        )
    return save_chart(fig, path)


def save(result: dict[str, Any], folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(result, indent=1, ensure_ascii=False))
    (folder / "table.md").write_text(markdown(result))
    return {
        "json": str(folder / "results.json"),
        "table": str(folder / "table.md"),
        "plot": str(plot(result, folder / "diversity_vs_perplexity.png")),
    }
