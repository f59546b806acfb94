"""Training throughput: our pretraining loop against a plain Hugging Face Trainer, same model, same data.

Both train the Tang-poem model's architecture (configs/tang-poems.toml: GPT-2 layout) on the same
prepared corpus, batch and sequence length, for the same number of steps, in one process, one
after the other. Reported: tokens/s over the timed steps (after warm-up) and model FLOP
utilisation (MFU): training FLOPs per token (6N + 12·L·C·T) × tokens/s ÷ the machine's measured
fp32 matmul peak, which this script measures first.

    python benchmarks/train.py --steps 30 --json benchmarks/results/train.json
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch

from fabula.gpt.model import GPT
from fabula.settings import get_settings
from fabula.train.config import load_config
from fabula.train.prepare import load_split, prepare
from fabula.train.pretrain import get_batch, pretrain

ROOT = Path(__file__).resolve().parent.parent


def matmul_peak(threads: int, size: int = 1024, repeats: int = 20) -> float:
    """Best fp32 GFLOP/s of a square matmul (the ceiling any training loop here can reach)."""
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    best = 0.0
    for _ in range(3):
        a @ b
    for n in (size, 2 * size):
        a, b = torch.randn(n, n), torch.randn(n, n)
        start = time.perf_counter()
        for _ in range(repeats if n == size else max(2, repeats // 8)):
            a @ b
        elapsed = time.perf_counter() - start
        best = max(best, 2 * n**3 * (repeats if n == size else max(2, repeats // 8)) / elapsed / 1e9)
    return best


def ours(cfg_path: Path, steps: int, warmup: int) -> dict[str, float]:
    cfg = load_config(
        cfg_path, [f"train.max_steps={steps}", "train.eval_interval=100000", "train.sample_interval=100000"]
    )
    cfg.train.checkpoint_interval = 100000
    times: list[float] = []

    def on_event(event: dict[str, object]) -> None:
        if event["event"] == "train":
            times.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as out:
        pretrain(cfg, Path(out) / "m", get_settings().ensure_home(), on_event=on_event)
    tokens = cfg.train.batch_size * cfg.model.block_size * (len(times) - 1 - warmup)
    return {"tokens_per_s": tokens / (times[-1] - times[warmup])}


def hf_trainer(cfg_path: Path, steps: int, warmup: int, data_dir: Path, vocab: int) -> dict[str, float]:
    from torch.utils.data import Dataset
    from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainerCallback, TrainingArguments

    cfg = load_config(cfg_path)
    data = load_split(data_dir, "train")
    t = cfg.train

    class Windows(Dataset):  # the same random windows our loop draws, one per item
        def __len__(self) -> int:
            return steps * t.batch_size

        def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
            step, row = divmod(i, t.batch_size)
            g = torch.Generator().manual_seed(t.seed * 1_000_003 + step)
            x, _ = get_batch(data, t.batch_size, cfg.model.block_size, g)
            return {"input_ids": x[row], "labels": x[row]}

    model = GPT2LMHeadModel(
        GPT2Config(
            vocab_size=vocab,
            n_positions=cfg.model.block_size,
            n_embd=cfg.model.n_embd,
            n_layer=cfg.model.n_layer,
            n_head=cfg.model.n_head,
            activation_function="gelu_new",
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
        )
    )
    times: list[float] = []

    class Clock(TrainerCallback):  # type: ignore[misc]
        def on_step_end(self, args: object, state: object, control: object, **kw: object) -> None:
            times.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out,
            per_device_train_batch_size=t.batch_size,
            max_steps=steps,
            learning_rate=t.learning_rate,
            weight_decay=t.weight_decay,
            max_grad_norm=t.grad_clip,
            warmup_steps=t.warmup_steps,
            lr_scheduler_type="cosine",
            logging_steps=10_000,
            save_strategy="no",
            report_to=[],
            use_cpu=True,
            dataloader_num_workers=0,
            disable_tqdm=True,
            seed=t.seed,
        )
        Trainer(model=model, args=args, train_dataset=Windows(), callbacks=[Clock()]).train()
    tokens = t.batch_size * cfg.model.block_size * (len(times) - 1 - warmup)
    return {"tokens_per_s": tokens / (times[-1] - times[warmup])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "tang-poems.toml")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    threads = get_settings().engine_threads()
    cfg = load_config(args.config)
    data_dir = prepare(cfg.data, get_settings().ensure_home())
    cfg.model.vocab_size = int(json.loads((data_dir / "meta.json").read_text())["vocab_size"])
    flops = GPT(cfg.model).flops_per_token()
    peak = matmul_peak(threads)
    rows = {"fabula loop": ours(args.config, args.steps, args.warmup)}
    rows["HF Trainer"] = hf_trainer(args.config, args.steps, args.warmup, data_dir, cfg.model.vocab_size)
    result = {
        "config": str(args.config.relative_to(ROOT)) if args.config.is_relative_to(ROOT) else str(args.config),
        "threads": threads,
        "cpus": os.cpu_count(),
        "steps_timed": args.steps - 1 - args.warmup,
        "tokens_per_step": cfg.train.batch_size * cfg.model.block_size,
        "flops_per_token": flops,
        "matmul_peak_gflops": round(peak, 1),
        "rows": [
            {
                "loop": name,
                "tokens_per_s": round(r["tokens_per_s"], 1),
                "mfu_pct": round(100 * flops * r["tokens_per_s"] / (peak * 1e9), 1),
                "vs_trainer": round(r["tokens_per_s"] / rows["HF Trainer"]["tokens_per_s"], 2),
            }
            for name, r in rows.items()
        ],
    }
    print("| loop | tokens/s | MFU | vs Trainer |\n|---|---:|---:|---:|")
    for row in result["rows"]:
        print(f"| {row['loop']} | {row['tokens_per_s']:,.0f} | {row['mfu_pct']}% | {row['vs_trainer']}× |")
    print(f"\nmatmul peak {result['matmul_peak_gflops']} GFLOP/s fp32 on {threads} threads")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
