"""Fine-tuning a Hugging Face causal LM (by default the embedded SmolLM2), with LoRA or in full.

The base model is the embedded GGUF dequantized once to float32 (the hf engine's cache), or any
local Hugging Face folder. The corpus is prepared like pretraining data (same cleaning and split by
document hash) but tokenized with the base model's own tokenizer and cut into `block`-token windows.
Validation perplexity is measured on the same held-out windows before and after training, so the
two numbers compare. LoRA adapters are saved in PEFT's format (adapter_config.json and
adapter_model.safetensors), which `fabula write --engine hf --adapter DIR` and PEFT itself load.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from fabula.errors import ConfigError
from fabula.settings import Settings
from fabula.train.config import DataConfig
from fabula.train.prepare import documents, is_val

OnEvent = Callable[[dict[str, Any]], None]


@dataclass
class FinetuneConfig:
    base: str = "default"
    method: str = "lora"  # lora | full
    data: str = "austen"
    block: int = 256
    batch_size: int = 4
    steps: int = 60
    learning_rate: float = 2e-4
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    val_windows: int = 24
    seed: int = 0

    def check(self) -> None:
        if self.method not in ("lora", "full"):
            raise ConfigError(f"--method {self.method!r}: use lora or full")
        for name in ("block", "batch_size", "steps", "lora_r", "val_windows"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)}: must be at least 1")
        if not self.learning_rate > 0:
            raise ConfigError(f"learning_rate={self.learning_rate}: must be positive")


# the embedded GGUF's upstream model, by the name the Hugging Face hub and PEFT know it by
DEFAULT_BASE_NAME = "HuggingFaceTB/SmolLM2-135M-Instruct"


def portable_base_name(base: str, folder: Path) -> str:
    """The base model named so the adapter means the same on another machine: the hub name of
    the embedded model's upstream, a folder's own recorded hub name, or else the folder's name
    (never a local cache path, which an adapter used to record)."""
    if base == "default":
        return DEFAULT_BASE_NAME
    try:
        recorded = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("_name_or_path", "")
    except (OSError, ValueError):
        recorded = ""
    if isinstance(recorded, str) and recorded.count("/") == 1 and not recorded.startswith(("/", ".", "~")):
        return recorded
    return folder.name


def base_model_folder(base: str, settings: Settings) -> Path:
    from fabula.backends.hf import resolve_hf_model

    return resolve_hf_model("" if base == "default" else base, settings)[0]


def token_windows(cfg: FinetuneConfig, tokenizer: Any, home: Path) -> tuple[list[list[int]], list[list[int]]]:
    """Training and validation windows of exactly `block` tokens, split by document."""
    train_ids: list[int] = []
    val_ids: list[int] = []
    eos = tokenizer.eos_token_id
    for doc in documents(DataConfig(corpus=cfg.data, tokenizer="bpe"), home):
        ids = tokenizer.encode(doc) + ([eos] if eos is not None else [])
        (val_ids if is_val(doc, 0.02) else train_ids).extend(ids)

    def cut(ids: list[int]) -> list[list[int]]:
        return [ids[i : i + cfg.block] for i in range(0, len(ids) - cfg.block + 1, cfg.block)]

    train, val = cut(train_ids), cut(val_ids)
    if not train or not val:
        raise ConfigError(f"corpus {cfg.data!r} is too small for {cfg.block}-token windows on both sides of the split")
    from fabula.responsible.reference import register_training_corpus

    register_training_corpus(home, cfg.data)  # originality is checked against what the model learnt
    return train, val[: cfg.val_windows]


@torch.no_grad()
def perplexity(model: Any, windows: list[list[int]], batch_size: int) -> float:
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(windows), batch_size):
        batch = torch.tensor(windows[i : i + batch_size])
        out = model(input_ids=batch, labels=batch)
        n = batch.numel() - batch.size(0)  # next-token predictions in the batch
        total += float(out.loss) * n
        count += n
    return math.exp(total / count)


def finetune(cfg: FinetuneConfig, out: Path, settings: Settings, on_event: OnEvent | None = None) -> dict[str, Any]:
    cfg.check()
    emit = on_event or (lambda event: None)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(cfg.seed)
    torch.set_num_threads(settings.engine_threads())
    folder = base_model_folder(cfg.base, settings)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model: Any = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    train, val = token_windows(cfg, tokenizer, settings.ensure_home())
    emit({"event": "start", "base": str(folder), "train_windows": len(train), "val_windows": len(val)})
    before = perplexity(model, val, cfg.batch_size)
    emit({"event": "eval", "step": 0, "val_perplexity": before})

    if cfg.method == "lora":
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout,
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
            task_type="CAUSAL_LM",
        )
        model = get_peft_model(model, lora)
    trainable = [p for p in model.parameters() if p.requires_grad]
    n_trainable = sum(p.numel() for p in trainable)
    optimizer = torch.optim.AdamW(trainable, lr=cfg.learning_rate, weight_decay=0.0)
    generator = torch.Generator().manual_seed(cfg.seed)
    model.train()
    started = time.perf_counter()
    for step in range(1, cfg.steps + 1):
        rows = torch.randint(0, len(train), (cfg.batch_size,), generator=generator).tolist()
        batch = torch.tensor([train[r] for r in rows])
        lr = cfg.learning_rate * min(1.0, step / max(1, cfg.steps // 10))  # short linear warm-up
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss = model(input_ids=batch, labels=batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        elapsed = time.perf_counter() - started
        emit(
            {
                "event": "train",
                "step": step,
                "loss": float(loss.detach()),
                "tokens_per_s": step * batch.numel() / elapsed,
            }
        )
    after = perplexity(model, val, cfg.batch_size)
    emit({"event": "eval", "step": cfg.steps, "val_perplexity": after})

    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(tmp)
    if cfg.method == "full":
        tokenizer.save_pretrained(tmp)
    base_name = portable_base_name(cfg.base, folder)
    adapter_config = tmp / "adapter_config.json"
    if adapter_config.is_file():  # PEFT writes the local folder it loaded from
        data = json.loads(adapter_config.read_text(encoding="utf-8"))
        data["base_model_name_or_path"] = base_name
        adapter_config.write_text(json.dumps(data, indent=2), encoding="utf-8")
    summary = {
        "event": "done",
        "method": cfg.method,
        "base": base_name,
        "trainable_parameters": n_trainable,
        "val_perplexity_before": before,
        "val_perplexity_after": after,
        "seconds": time.perf_counter() - started,
        "config": asdict(cfg),
    }
    (tmp / "fabula_finetune.json").write_text(json.dumps(summary, indent=2))
    if out.exists():
        import shutil

        shutil.rmtree(out)
    os.replace(tmp, out)
    emit(summary)
    return summary
