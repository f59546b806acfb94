"""What a training configuration will cost, estimated before it runs, and the server's bounds on it.

A training job sent over HTTP runs on the server's CPUs for as long as its steps last, so the
server refuses one it cannot afford before queueing it (a config of about 4.9e12 parameters was
once accepted with a 202). The estimate is the standard decoder-only count:

    params ~ V*E (token table, tied to the output head) + T*E (positions)
             + L * (12*E^2 + 13*E) (attention and MLP weights and biases, two layer norms) + 2*E

for vocabulary V, context T, width E and depth L. Memory for fp32 training with AdamW is
16 bytes per parameter (weights, gradients, two moments) plus activations, about
B*T*L*(34*E + 5*H*T) * 4 bytes for batch B and H heads (Korthikanti et al. 2022, eq. 2, doubled
for fp32). Both are upper-bound estimates meant for refusing, not for planning to the byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fabula.errors import InvalidParam


@dataclass(frozen=True)
class TrainCost:
    parameters: int
    steps: int
    memory_bytes: int


@dataclass(frozen=True)
class TrainLimits:
    max_parameters: int = 20_000_000
    max_steps: int = 20_000
    max_memory_bytes: int = 4 * 1024**3


def estimate(cfg: Any) -> TrainCost:
    m, d, t = cfg.model, cfg.data, cfg.train
    vocab = max(m.vocab_size, d.vocab_size if d.tokenizer == "bpe" else 0, 256)
    e, layers, context, heads = m.n_embd, m.n_layer, m.block_size, m.n_head
    params = vocab * e + context * e + layers * (12 * e * e + 13 * e) + 2 * e
    activations = t.batch_size * context * layers * (34 * e + 5 * heads * context) * 4
    return TrainCost(params, t.max_steps, 16 * params + activations)


def check(cfg: Any, limits: TrainLimits) -> TrainCost:
    """The config's cost, or InvalidParam naming the bound it passes, its value and what to lower."""
    cost = estimate(cfg)
    if cost.parameters > limits.max_parameters:
        raise InvalidParam(
            "overrides",
            f"{cost.parameters:,} parameters",
            f"this server trains at most {limits.max_parameters:,} parameters",
            "lower model.n_layer, model.n_embd or model.block_size",
        )
    if cost.steps > limits.max_steps:
        raise InvalidParam("max_steps", cost.steps, f"this server trains at most {limits.max_steps:,} steps")
    if cost.memory_bytes > limits.max_memory_bytes:
        raise InvalidParam(
            "overrides",
            f"about {cost.memory_bytes / 1024**2:,.0f} MiB",
            f"this server gives a training run at most {limits.max_memory_bytes / 1024**2:,.0f} MiB",
            "lower train.batch_size or model.block_size",
        )
    return cost
