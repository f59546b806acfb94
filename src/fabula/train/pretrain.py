"""Pretraining loop for our GPT: deterministic batches, periodic validation, atomic resumable checkpoints.

Resume semantics: the batch for step s is drawn from a generator seeded by (seed, s), and dropout
(if any) by a generator whose state is saved, so a run killed after its step-s checkpoint and
resumed from it takes exactly the same steps as an uninterrupted run: same losses, same weights.
Evaluation and sampling use their own generators and never disturb the training stream.

A model folder holds:
  config.json        the TrainConfig (with the model's vocab size filled in)
  tokenizer.json     the vocabulary
  model.safetensors  weights (float16: half the size; loaded back as float32)
  checkpoint.pt      float32 weights, optimizer state, step and history, for --resume
  log.jsonl          one line per event (train, eval, sample, checkpoint, done)
  loss.png           training and validation loss curves
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fabula.errors import ConfigError
from fabula.gpt.model import GPT, GPTConfig
from fabula.gpt.tokenizers import load_tokenizer
from fabula.train.config import TrainConfig
from fabula.train.prepare import load_split, prepare

Event = dict[str, Any]
OnEvent = Callable[[Event], None]


LOG = logging.getLogger(__name__)


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to min_lr at max_steps."""
    t = cfg.train
    if step < t.warmup_steps:
        return t.learning_rate * (step + 1) / t.warmup_steps
    progress = min(1.0, (step - t.warmup_steps) / max(1, t.max_steps - t.warmup_steps))
    return t.min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (t.learning_rate - t.min_lr)


def get_batch(data: np.ndarray, batch_size: int, block: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    """`batch_size` random windows of `block + 1` tokens: inputs and next-token targets."""
    if len(data) <= block + 1:
        raise ConfigError(f"the corpus split has {len(data)} tokens, fewer than block_size+1={block + 1}")
    starts = torch.randint(0, len(data) - block - 1, (batch_size,), generator=generator)
    rows = np.stack([data[int(s) : int(s) + block + 1].astype(np.int64) for s in starts])
    tensor = torch.from_numpy(rows)
    return tensor[:, :-1].contiguous(), tensor[:, 1:].contiguous()


def configure_optimizer(model: GPT, cfg: TrainConfig) -> torch.optim.AdamW:
    """Weight decay on matrices only; biases, norms and embeddings' 1-D parts are not decayed."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": cfg.train.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.train.learning_rate, betas=(cfg.train.beta1, cfg.train.beta2))


@torch.no_grad()
def evaluate(model: GPT, data: np.ndarray, cfg: TrainConfig) -> float:
    """Mean loss over a fixed set of validation windows (the same ones at every evaluation)."""
    model.eval()
    generator = torch.Generator().manual_seed(cfg.train.seed + 1)
    block = min(cfg.model.block_size, len(data) - 2)
    losses = []
    for _ in range(cfg.train.eval_batches):
        x, y = get_batch(data, cfg.train.batch_size, block, generator)
        losses.append(float(model(x, y)[1]))  # type: ignore[arg-type]
    model.train()
    return float(np.mean(losses))


@torch.no_grad()
def sample(
    model: GPT, prompt_ids: list[int], steps: int, seed: int, temperature: float = 0.8, top_k: int = 40
) -> list[int]:
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    idx = torch.tensor([prompt_ids], dtype=torch.long)
    for _ in range(steps):
        logits = model(idx[:, -model.config.block_size :])[0][0, -1] / temperature
        top = torch.topk(logits, min(top_k, logits.numel()))
        probs = torch.softmax(top.values, dim=-1)
        choice = top.indices[torch.multinomial(probs, 1, generator=generator)]
        idx = torch.cat([idx, choice.view(1, 1)], dim=1)
    model.train()
    return idx[0, len(prompt_ids) :].tolist()


def _atomic_torch_save(obj: Any, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    tmp.replace(path)


def save_weights(model: GPT, folder: Path) -> None:
    from safetensors.torch import save_file

    # tied: wte and lm_head share storage; safetensors keeps one copy
    state = {
        k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"
    }
    from fabula.files import replaced
    from fabula.model_files import record_hash

    with replaced(folder / "model.safetensors") as tmp:
        save_file(state, str(tmp), metadata={"format": "fabula-gpt"})
    record_hash(folder / "model.safetensors")  # compared on every load: a damaged file is refused


def _starting_model(cfg: TrainConfig, home: Path) -> tuple[GPT, Any] | None:
    """The model named by `train.init_from` with its tokenizer, or None. Its shape becomes the
    run's: a [model] setting given (not left at its default) that differs is refused, naming it,
    since the weights could not load into another shape."""
    if not cfg.train.init_from:
        return None
    from fabula.gpt.export import load_gpt
    from fabula.gpt.registry import resolve_gpt

    model, tokenizer, _ = load_gpt(resolve_gpt(cfg.train.init_from, home))
    wanted, found, default = asdict(cfg.model), asdict(model.config), asdict(GPTConfig())
    shape = ("block_size", "n_layer", "n_head", "n_embd")
    differ = [k for k in shape if wanted[k] != default[k] and wanted[k] != found[k]]
    if differ:
        shown = ", ".join(f"model.{k}={found[k]}" for k in differ)
        raise ConfigError(f"train.init_from={cfg.train.init_from!r} has {shown}; set the same, or start from scratch")
    cfg.model = GPTConfig(**{**found, "fused": cfg.model.fused, "dropout": cfg.model.dropout})
    return model, tokenizer


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2))
    tmp.replace(path)


def pretrain(
    cfg: TrainConfig,
    out: Path,
    home: Path,
    resume: bool = False,
    on_event: OnEvent | None = None,
) -> dict[str, Any]:
    """Train (or continue training) the model described by `cfg` into folder `out`."""
    emit = on_event or (lambda event: None)
    torch.set_num_threads(cfg.train.threads or (os.cpu_count() or 1))
    base = _starting_model(cfg, home)
    data_dir = prepare(cfg.data, home, tokenizer=base[1] if base else None)
    tokenizer = load_tokenizer(data_dir)
    cfg.model.vocab_size = tokenizer.vocab_size
    train_data, val_data = load_split(data_dir, "train"), load_split(data_dir, "val")

    out.mkdir(parents=True, exist_ok=True)
    checkpoint_path = out / "checkpoint.pt"
    if resume and not checkpoint_path.is_file():
        raise ConfigError(f"--resume: {checkpoint_path} does not exist; start without --resume")
    if not resume and checkpoint_path.exists():
        raise ConfigError(f"{out} already holds a checkpoint: pass --resume to continue it, or choose another --out")
    torch.manual_seed(cfg.train.seed)
    model = GPT(cfg.model)  # initialised under the run's seed (a resume then loads its weights)
    if base is not None:
        model.load_state_dict(base[0].state_dict())
    optimizer = configure_optimizer(model, cfg)
    step = 0
    history: dict[str, list[list[float]]] = {"train": [], "val": []}
    if resume:
        state = torch.load(checkpoint_path, map_location="cpu", weights_only=False)
        saved = TrainConfig.from_dict(state["config"])
        saved.train.max_steps = cfg.train.max_steps  # the one setting a resume may extend
        if saved.to_dict() != cfg.to_dict():
            raise ConfigError(f"--resume: the configuration differs from the one saved in {checkpoint_path}")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, history = int(state["step"]), state["history"]
        torch.set_rng_state(state["torch_rng"])
    tokenizer.save(out)
    _write_json(out / "config.json", cfg.to_dict())
    log = (out / "log.jsonl").open("a", encoding="utf-8")

    def record(event: Event) -> None:
        log.write(json.dumps(event, ensure_ascii=False) + "\n")
        log.flush()
        LOG.debug("training event %s", event)
        if event["event"] in ("start", "checkpoint", "done"):
            LOG.info("training %s at step %s", event["event"], event.get("step"))
        emit(event)

    def checkpoint() -> None:
        _atomic_torch_save(
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "step": step,
                "config": cfg.to_dict(),
                "history": history,
                "torch_rng": torch.get_rng_state(),
            },
            checkpoint_path,
        )
        save_weights(model, out)
        record({"event": "checkpoint", "step": step})

    t = cfg.train
    block = cfg.model.block_size
    tokens_per_step = t.batch_size * block
    flops_per_token = model.flops_per_token()
    shown = f"FABULA_HOME/{data_dir.relative_to(home)}" if data_dir.is_relative_to(home) else str(data_dir)
    record({"event": "start", "step": step, "parameters": model.num_parameters(), "data": shown})
    model.train()
    started = time.perf_counter()
    start_step = step
    try:
        while step < t.max_steps:
            lr = lr_at(step, cfg)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x, y = get_batch(train_data, t.batch_size, block, torch.Generator().manual_seed(t.seed * 1_000_003 + step))
            _, loss, _ = model(x, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[union-attr]
            if t.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
            optimizer.step()
            step += 1
            loss_value = float(loss.detach())  # type: ignore[union-attr]
            if not math.isfinite(loss_value):
                raise ConfigError(f"loss became {loss_value} at step {step}: lower train.learning_rate")
            history["train"].append([step, loss_value])
            elapsed = time.perf_counter() - started
            tps = (step - start_step) * tokens_per_step / max(elapsed, 1e-9)
            record({"event": "train", "step": step, "loss": loss_value, "lr": lr, "tokens_per_s": tps})
            if step % t.eval_interval == 0 or step == t.max_steps:
                val = evaluate(model, val_data, cfg)
                history["val"].append([step, val])
                record({"event": "eval", "step": step, "val_loss": val})
            if step % t.sample_interval == 0 or step == t.max_steps:
                prompt = tokenizer.encode("《") if tokenizer.kind == "char" else [tokenizer.eot_id]
                text = tokenizer.decode(sample(model, prompt, min(96, block - len(prompt)), seed=t.seed + step))
                record({"event": "sample", "step": step, "text": text})
            if step % t.checkpoint_interval == 0 or step == t.max_steps:
                checkpoint()
    finally:
        log.close()
    elapsed = time.perf_counter() - started
    trained = step - start_step
    summary = {
        "event": "done",
        "step": step,
        "train_loss": history["train"][-1][1] if history["train"] else None,
        "val_loss": history["val"][-1][1] if history["val"] else None,
        "tokens_per_s": trained * tokens_per_step / elapsed if trained else 0.0,
        "flops_per_token": flops_per_token,
        "seconds": elapsed,
        "parameters": model.num_parameters(),
    }
    with (out / "log.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(summary) + "\n")
    emit(summary)
    plot_losses(history, out / "loss.png", title=cfg.name)
    return summary


def plot_losses(history: dict[str, list[list[float]]], path: Path, title: str) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    if history["train"]:
        steps, losses = zip(*history["train"], strict=True)
        window = max(1, len(losses) // 100)
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax.plot(steps[window - 1 :], smooth, label="train (smoothed)", linewidth=1)
    if history["val"]:
        steps, losses = zip(*history["val"], strict=True)
        ax.plot(steps, losses, "o-", label="validation", markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
