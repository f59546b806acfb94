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
from typing import Any, Protocol, runtime_checkable

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
    # can be driven one token at a time through `stepper(request)` (a SteppableBackend): fixed verse
    # forms are then decoded inside their constraint, phrase bans backtrack, the watermark applies
    steppable: bool = False
    # decodes under a JSON Schema (`Request.json_schema`): what `response_format` needs
    json_schema: bool = False
    # reports each token's text and its likeliest alternatives (`Request.top_logprobs`)
    top_logprobs: bool = False
    # adds `Request.logit_bias` to the logits before sampling
    logit_bias: bool = False
    # can go on past the end-of-text token (`Request.ignore_eos`)
    ignore_eos: bool = False
    # sequences the engine decodes together when called from that many threads at once (llama.cpp's
    # slots, where a core is left for the samplers' Python): the pipeline then steps a request's
    # candidates side by side
    parallel: int = 1


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


@runtime_checkable
class SteppableBackend(Backend, Protocol):
    """An engine the pipeline can step one token at a time (llama.cpp, Transformers, our GPTs).

    The pipeline reads `capabilities.steppable` and nothing else to decide: no surface asks an
    engine what methods it happens to have."""

    def stepper(self, request: Request) -> Any:
        """A fresh one-token-at-a-time view of the model for this request's prompt."""
        ...


def steppable(backend: Backend) -> SteppableBackend | None:
    """The backend as a SteppableBackend when its capabilities say it is one, else None."""
    if backend.capabilities.steppable and isinstance(backend, SteppableBackend):
        return backend
    return None


def candidate_seeds(seed: int | None, n: int) -> list[int | None]:
    """Seeds for n candidates: seed, seed+1, ... (wrapping below llama.cpp's reserved value)."""
    if seed is None:
        return [None] * n
    from fabula.sampling import MAX_SEED

    return [(seed + i) % (MAX_SEED + 1) for i in range(n)]
