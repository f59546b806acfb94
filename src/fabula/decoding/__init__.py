"""Logits processors for steerable engines, and the one documented order they run in.

Order (the same as llama.cpp's default sampler chain, so a setting means the same thing on both
engines): repetition penalty -> presence/frequency penalties -> top-k -> typical-p -> top-p ->
min-p -> temperature -> sample. Truncation therefore looks at the untempered distribution.
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
