"""The ci model against the shi model it was fine-tuned from: perplexity on held-out verse.

Both shipped models share one character vocabulary (the ci model was started from the Tang model
with `train.init_from`), so their perplexities per character compare directly. Each held-out set
is the validation split its training config makes (documents chosen by a hash of their text,
never trained on): Song ci as the ci model saw them ("《tune，theme》ci"), and Tang shi. Every
validation token is scored once, in consecutive windows of the models' context (128 characters).

    python benchmarks/ci_model.py [--json benchmarks/results/ci_model.json]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fabula.gpt.export import load_gpt
from fabula.gpt.registry import resolve_gpt
from fabula.settings import get_settings
from fabula.train.config import TrainConfig
from fabula.train.prepare import load_split, prepare

MODELS = ("tang-poems", "song-ci")
HELD_OUT = {"Song ci (held out)": "song-ci", "Tang shi (held out)": "tang-poems"}  # split of this model's config


@torch.no_grad()
def perplexity(model: Any, ids: np.ndarray, block: int) -> float:
    """exp of the mean loss over every token after the first of each window."""
    total, count = 0.0, 0
    for start in range(0, len(ids) - 1, block):
        window = torch.tensor(ids[start : start + block + 1].astype(np.int64))
        if len(window) < 2:
            break
        x, y = window[:-1].unsqueeze(0), window[1:].unsqueeze(0)
        loss = model(x, y)[1]
        total += float(loss) * y.numel()
        count += y.numel()
    return math.exp(total / count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    home = get_settings().ensure_home()
    loaded = {name: load_gpt(resolve_gpt(name, home)) for name in MODELS}
    rows: dict[str, dict[str, Any]] = {}
    for label, owner in HELD_OUT.items():
        config = TrainConfig.from_dict(loaded[owner][2])
        data = load_split(prepare(config.data, home, tokenizer=loaded["tang-poems"][1]), "val")
        unknown = float(np.mean(data == 0))
        row: dict[str, Any] = {"tokens": int(len(data)), "unknown_share": round(unknown, 4)}
        for name, (model, _, _) in loaded.items():
            row[name] = round(perplexity(model, data, model.config.block_size), 2)
            print(f"{label}: {name} {row[name]}", flush=True)
        rows[label] = row
    lines = [
        "| held-out text | characters | unknown | Tang model | ci model | ratio (ci / Tang) |",
        "|---|---|---|---|---|---|",
    ]
    for label, row in rows.items():
        ratio = row["song-ci"] / row["tang-poems"]
        lines.append(
            f"| {label} | {row['tokens']:,} | {row['unknown_share']:.2%} | {row['tang-poems']:.1f} | "
            f"{row['song-ci']:.1f} | {ratio:.2f} |"
        )
    table = "\n".join(lines) + "\n"
    print(table)
    if args.json:
        args.json.write_text(json.dumps({"summary": table, "rows": rows}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
