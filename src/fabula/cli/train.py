"""`fabula train pretrain|finetune`: train our GPT from a corpus, or adapt an existing model.

Long work shows a progress bar with loss and tokens/s; `--json` prints one JSON event per line
instead (for scripts), and every event also lands in the model folder's log.jsonl.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from fabula.cli.render import notice
from fabula.settings import get_settings


@click.group()
def train() -> None:
    """Pretrain our GPT, or fine-tune a model (LoRA or full)."""


class _Progress:
    """A rich progress bar fed by training events; prints evaluations and samples above it."""

    def __init__(self, total: int, start: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.3f}  {task.fields[tps]:,.0f} tok/s"),
            TimeRemainingColumn(),
            console=self.console,
        )
        self.task = self.progress.add_task("train", total=total, completed=start, loss=float("nan"), tps=0.0)

    def __enter__(self) -> _Progress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)  # type: ignore[arg-type]

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind == "train":
            self.progress.update(self.task, completed=event["step"], loss=event["loss"], tps=event["tokens_per_s"])
        elif kind == "eval" and "val_perplexity" in event:
            self.progress.console.print(f"step {event['step']}: validation perplexity {event['val_perplexity']:.2f}")
        elif kind == "eval":
            self.progress.console.print(f"step {event['step']}: validation loss {event['val_loss']:.4f}")
        elif kind == "sample":
            self.progress.console.print(f"[dim]sample at step {event['step']}:[/dim] {event['text'][:200]!r}")
        elif kind == "start" and "parameters" in event:
            self.progress.console.print(f"{event['parameters']:,} parameters; data {event['data']}")
        elif kind == "start":
            self.progress.console.print(f"base {event['base']}: {event['train_windows']} training windows")


@train.command("pretrain", context_settings={"ignore_unknown_options": True})
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help="TOML config.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Model folder (default: registry).")
@click.option("--max-steps", type=click.IntRange(1), help="Override train.max_steps.")
@click.option("--resume", is_flag=True, help="Continue the checkpoint in --out.")
@click.option("--json", "as_json", is_flag=True, help="One JSON event per line instead of a progress bar.")
@click.argument("overrides", nargs=-1)
def pretrain_command(
    config_path: Path | None,
    out: Path | None,
    max_steps: int | None,
    resume: bool,
    as_json: bool,
    overrides: tuple[str, ...],
) -> None:
    """Pretrain our GPT. OVERRIDES are section.key=value (or --section.key=value), e.g.
    train.learning_rate=3e-4 --model.n_layer=2."""
    from fabula.gpt.registry import user_models
    from fabula.train.config import load_config
    from fabula.train.pretrain import pretrain

    items = list(overrides) + ([f"train.max_steps={max_steps}"] if max_steps else [])
    cfg = load_config(config_path, items)
    settings = get_settings()
    home = settings.ensure_home()
    folder = out or user_models(home) / cfg.name
    if as_json:
        summary = pretrain(
            cfg, folder, home, resume=resume, on_event=lambda e: click.echo(json.dumps(e, ensure_ascii=False))
        )
        return
    start = 0
    if resume and (folder / "log.jsonl").is_file():
        steps = [json.loads(line).get("step", 0) for line in (folder / "log.jsonl").read_text().splitlines() if line]
        start = max(steps, default=0)
    with _Progress(cfg.train.max_steps, start) as progress:
        summary = pretrain(cfg, folder, home, resume=resume, on_event=progress)
    click.echo(
        f"done: step {summary['step']}, validation loss {summary['val_loss']:.4f}, "
        f"{summary['tokens_per_s']:,.0f} tokens/s; model in {folder} (loss curve: loss.png)"
    )


@train.command("finetune")
@click.option("--base", default="default", show_default=True, help="default (embedded SmolLM2) or a HF model folder.")
@click.option("--method", type=click.Choice(["lora", "full"]), default="lora", show_default=True)
@click.option("--data", default="austen", show_default=True, help="austen, or a folder of .txt files.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Adapter/model folder.")
@click.option("--steps", type=click.IntRange(1), default=60, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=4, show_default=True)
@click.option("--block", type=click.IntRange(8, 4096), default=256, show_default=True, help="Tokens per window.")
@click.option("--learning-rate", type=float, default=None, help="Default 2e-4 (lora) or 2e-5 (full).")
@click.option("--lora-r", type=click.IntRange(1, 256), default=8, show_default=True)
@click.option("--val-windows", type=click.IntRange(1), default=24, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON event per line.")
def finetune_command(
    base: str,
    method: str,
    data: str,
    out: Path | None,
    steps: int,
    batch_size: int,
    block: int,
    learning_rate: float | None,
    lora_r: int,
    val_windows: int,
    seed: int,
    as_json: bool,
) -> None:
    """Fine-tune the embedded SmolLM2 (or a local HF model) on a corpus; report validation perplexity
    before and after; save a PEFT adapter (lora) or a full model."""
    from fabula.train.finetune import FinetuneConfig, finetune

    cfg = FinetuneConfig(
        base=base,
        method=method,
        data=data,
        block=block,
        batch_size=batch_size,
        steps=steps,
        learning_rate=learning_rate or (2e-4 if method == "lora" else 2e-5),
        lora_r=lora_r,
        lora_alpha=2 * lora_r,
        val_windows=val_windows,
        seed=seed,
    )
    settings = get_settings()
    folder = out or settings.ensure_home() / "adapters" / f"{Path(data).name}-{method}"
    if as_json:
        finetune(cfg, folder, settings, on_event=lambda e: click.echo(json.dumps(e)))
        return
    with _Progress(steps, 0) as progress:
        summary = finetune(cfg, folder, settings, on_event=progress)
    click.echo(
        f"validation perplexity {summary['val_perplexity_before']:.2f} -> {summary['val_perplexity_after']:.2f} "
        f"({summary['trainable_parameters']:,} trainable parameters); saved to {folder}"
    )
    if method == "lora":
        notice(f'use it: fabula write story "..." --engine hf --adapter {folder}')
