"""The Backend protocol: one small interface every engine implements.

An engine takes a Request and returns one Completion per candidate (`params.n`). Candidate i is
sampled with seed `params.seed + i`, so any single candidate can be reproduced alone. Streaming is
a callback (`on_text(candidate_index, delta)`) because every engine we wrap (llama.cpp's server
loop, a Transformers decode loop, an SSE reader) naturally produces text that way; surfaces that
want an iterator wrap it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from fabula.types import Completion, Request

OnText = Callable[[int, str], None]


@dataclass(frozen=True)
class Capabilities:
    steerable: bool  # accepts our own logits processors at every step
    streaming: bool
    logprobs: bool
    chat_template: bool  # the loaded model has one, so chat messages are used
    # False for a model that only continues text (our own GPTs): it gets the form's continuation
    # prompt (by default the user's own words) as plain text, never an English instruction
    instructions: bool = True


@runtime_checkable
class Backend(Protocol):
    name: str
    model_name: str
    capabilities: Capabilities

    def complete(self, request: Request, on_text: OnText | None = None) -> list[Completion]:
        """Generate `request.params.n` candidates; call `on_text` with each text delta."""
        ...

    def model_info(self) -> dict[str, object]:
        """What provenance records about the model: name, path or URL, hash where known."""
        ...

    def close(self) -> None: ...


def candidate_seeds(seed: int | None, n: int) -> list[int | None]:
    """Seeds for n candidates: seed, seed+1, ... (wrapping below llama.cpp's reserved value)."""
    if seed is None:
        return [None] * n
    from fabula.sampling import MAX_SEED

    return [(seed + i) % (MAX_SEED + 1) for i in range(n)]
