"""Logits processors for steerable engines, and the one documented order they run in.

Order (llama.cpp's default sampler chain, so a setting means the same thing on both engines):
no-repeat n-gram ban -> repetition penalty -> presence/frequency penalties -> DRY -> top-k ->
typical-p -> top-p -> min-p -> epsilon -> XTC -> temperature -> sample. Truncation therefore
looks at the untempered distribution.
"""

from fabula.decoding.processors import (
    LogitsProcessor,
    MinP,
    PresenceFrequencyPenalty,
    RepetitionPenalty,
    Temperature,
    TopK,
    TopP,
    TypicalP,
    build_processors,
    run_processors,
)

__all__ = [
    "LogitsProcessor",
    "MinP",
    "PresenceFrequencyPenalty",
    "RepetitionPenalty",
    "Temperature",
    "TopK",
    "TopP",
    "TypicalP",
    "build_processors",
    "run_processors",
]
