"""A tiny corpus and a tiny trained GPT, shared by the training, export and engine tests.

The corpus is regular: short "poems" over a dozen characters, each line five characters, so a
two-layer model learns it in a few dozen steps and its greedy output is not a tie-breaking lottery.
"""

from __future__ import annotations

import random
from pathlib import Path

CHARS = "春花秋月山水风云江天人心日夜长空明光来归时年中东西南北青白红黄金玉清寒香深城"


def write_corpus(folder: Path, documents: int = 60, seed: int = 0) -> Path:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(documents):
        lines = []
        for _ in range(4):
            start = rng.randrange(len(CHARS))
            lines.append("".join(CHARS[(start + k) % len(CHARS)] for k in range(5)))
        text = "《" + CHARS[i % len(CHARS)] + "》" + "，".join(lines[:2]) + "。" + "，".join(lines[2:]) + "。"
        (folder / f"poem{i:03d}.txt").write_text(text + "\n", encoding="utf-8")
    return folder


TINY_OVERRIDES = [
    "data.tokenizer=char",
    "data.min_count=1",
    "data.val_fraction=0.2",
    "model.n_layer=2",
    "model.n_head=2",
    "model.n_embd=32",
    "model.block_size=32",
    "train.batch_size=8",
    "train.learning_rate=1e-2",
    "train.min_lr=1e-3",
    "train.warmup_steps=5",
    "train.eval_interval=20",
    "train.eval_batches=2",
    "train.sample_interval=1000",
    "train.checkpoint_interval=10",
    "train.threads=1",
]


def tiny_overrides(corpus: Path, steps: int) -> list[str]:
    return [f"data.corpus={corpus}", f"train.max_steps={steps}", *TINY_OVERRIDES]
