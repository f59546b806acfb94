"""Typed training configuration, read from TOML and overridden by `--key=value` on the command line.

A run's configuration is saved inside every checkpoint, so a model folder says exactly how it was
made and `--resume` refuses to continue under a different configuration.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from fabula.errors import ConfigError
from fabula.gpt.model import GPTConfig


@dataclass
class DataConfig:
    corpus: str = "tang"  # tang | ci | austen | a folder of .txt files
    tokenizer: str = "char"  # char | bpe
    vocab_size: int = 4096  # bpe only: merges stop here
    min_count: int = 2  # char only: rarer characters become <unk>
    val_fraction: float = 0.02


@dataclass
class OptimConfig:
    batch_size: int = 32
    max_steps: int = 1000
    learning_rate: float = 1e-3
    min_lr: float = 1e-4
    warmup_steps: int = 100
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0
    seed: int = 1337
    eval_interval: int = 200
    eval_batches: int = 20
    sample_interval: int = 500
    checkpoint_interval: int = 200
    threads: int = 0  # 0: all cores
    # a GPT (a name `--engine gpt --model` knows, or a folder) whose weights and tokenizer the run
    # starts from: fine-tuning our Tang model on the Song ci, say. Its [model] shape is kept.
    init_from: str = ""


@dataclass
class TrainConfig:
    name: str = "model"
    data: DataConfig = field(default_factory=DataConfig)
    model: GPTConfig = field(default_factory=GPTConfig)
    train: OptimConfig = field(default_factory=OptimConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        unknown = set(data) - {"name", "data", "model", "train"}
        if unknown:
            raise ConfigError(f"unknown config sections {sorted(unknown)}: use [data], [model], [train]")
        return cls(
            name=str(data.get("name", "model")),
            data=_section(DataConfig, data.get("data", {}), "data"),
            model=_section(GPTConfig, data.get("model", {}), "model"),
            train=_section(OptimConfig, data.get("train", {}), "train"),
        )


def _section(kind: type, values: dict[str, Any], section: str) -> Any:
    known = {f.name: f for f in fields(kind)}
    for key in values:
        if key not in known:
            raise ConfigError(f"[{section}] {key}: unknown setting; known: {', '.join(sorted(known))}")
    try:
        return kind(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[{section}]: {exc}") from exc


def _coerce(raw: str, current: Any, key: str) -> Any:
    try:
        if isinstance(current, bool):
            if raw.lower() not in {"true", "false", "1", "0"}:
                raise ValueError
            return raw.lower() in {"true", "1"}
        if isinstance(current, int):
            return int(raw)
        if isinstance(current, float):
            return float(raw)
    except ValueError:
        raise ConfigError(f"--{key}={raw!r}: expected a {type(current).__name__}") from None
    return raw


def load_config(path: Path | None, overrides: list[str] | None = None) -> TrainConfig:
    """The TOML file (or defaults), then each `section.key=value` override in order."""
    data: dict[str, Any] = {}
    if path is not None:
        if not Path(path).is_file():
            raise ConfigError(f"config {path} not found")
        try:
            data = tomllib.loads(Path(path).read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config {path}: {exc}") from exc
    config = TrainConfig.from_dict(data)
    tree = config.to_dict()
    for item in overrides or []:
        key, sep, raw = item.lstrip("-").partition("=")
        parts = key.split(".")
        if not sep or len(parts) != 2 or parts[0] not in ("data", "model", "train") or parts[1] not in tree[parts[0]]:
            raise ConfigError(f"override {item!r}: write section.key=value, e.g. train.learning_rate=3e-4")
        tree[parts[0]][parts[1]] = _coerce(raw, tree[parts[0]][parts[1]], key)
    return TrainConfig.from_dict(tree)
