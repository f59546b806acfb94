"""Logits processors for steerable engines, and the one documented order they run in.

Order (llama.cpp's default sampler chain, so a setting means the same thing on both engines):
no-repeat n-gram ban -> repetition penalty -> presence/frequency penalties -> DRY -> top-k ->
typical-p -> top-p -> min-p -> epsilon -> XTC -> temperature -> sample. Truncation therefore
looks at the untempered distribution.

Nothing is imported here: the processors need torch, which the default engine (llama.cpp) does not,
so `fabula.decoding.constrained` and the other stepped samplers import without it. Import the
processors from `fabula.decoding.processors`.
"""
