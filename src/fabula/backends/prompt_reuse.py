"""Reusing a llama.cpp slot's KV cache for a new prompt without changing a single logit.

A slot keeps the prompt it last evaluated. A new prompt that shares its first S tokens can skip
their prefill, and co-writing sessions (the same chapter, verb after verb) share long prefixes.
But a seed must keep fixing the text bit for bit, and llama.cpp does not evaluate a token the
same way in every batch: a token evaluated alone (a ubatch of one) gets other logits, in the last
bits, than the same token evaluated with others, and the int8 activations turn that into another
sampled text. Measured on the embedded model, with flash attention off (68 random pairs of
prompts of 20 to 1,800 tokens, a random shared prefix each; `tests/test_prompt_reuse.py` checks
the engine against a cold one on the cases that matter), a reused prefix gives exactly the
logits of a cold prefill when

1. the cached prefix holds only prompt tokens evaluated as a cold prefill evaluates them: never
   tokens the model generated (each was decoded alone), and never a prompt's last token where
   that one was evaluated alone;
2. the tokens still to evaluate end in a one-token ubatch exactly when a cold prefill's do:
   with N prompt tokens, S reused and ubatches of U, ``(N - S) % U == 1`` iff ``N % U == 1``.

Where the boundaries of the other ubatches fall does not matter (a cold prefill of 1,334 tokens
runs 512 + 512 + 310; reusing 1,301 runs 33; the logits are equal). Breaking rule 2 changed the
logits in 11 of 20 cases tried, and a whole-prompt match breaks it (llama.cpp then re-evaluates
the last token alone).

Both rules hold for a request evaluated alone. Beside another sequence they do not: llama.cpp
puts the tokens of concurrent slots in shared ubatches, which changes how a short rest is split,
and a reused rest of 1 to 100 tokens evaluated while another slot decoded gave other logits in 4 of 8
lengths tried (a cold prefill beside it kept them, as `tests/test_llamacpp.py` checks). So a
prefix is reused only while no other request holds a slot (rule 3), and until that request's
first token no other request starts (`SlotPool.prefill`); under concurrent load every request
prefills cold, as before.

llama.cpp picks how much to reuse itself: the longest common prefix with whatever the slot
holds, generated tokens included. So `SlotPool` records, per slot, the prefix that rule 1 allows,
`reusable_prefix` applies rule 2, and where llama.cpp would reuse more than that, the slot is
first cut back to the planned length (a one-token request at that position).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from fabula.errors import BackendError


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens `a` and `b` share."""
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def reusable_prefix(prompt: Sequence[int], cached: Sequence[int], ubatch: int) -> int:
    """How many of `prompt`'s first tokens can come from a cache holding `cached` (rule 1 already
    applied to it) so that the logits equal a cold prefill's (rule 2): at most N - 1, since
    llama.cpp evaluates at least one token, and 0 when nothing can be reused."""
    n = len(prompt)
    s = min(common_prefix(prompt, cached), n - 1)
    if s <= 0:
        return 0
    if n % ubatch == 1:  # a cold prefill evaluates the last token alone: so must the rest
        return s - s % ubatch
    if (n - s) % ubatch == 1:
        return s - 1
    return s


def clean_prefix(prompt: Sequence[int], ubatch: int) -> list[int]:
    """What a slot that has just evaluated `prompt` (by a cold prefill, or under rule 2) may
    offer to the next prompt: all of it, less the last token where that one was evaluated alone."""
    return list(prompt[:-1] if len(prompt) % ubatch == 1 else prompt)


MIN_REUSE = 32  # tokens: a shorter shared prefix saves less than it costs the slot's cache


@dataclass(frozen=True)
class Plan:
    """How one request uses its slot: reuse `reuse` tokens, after cutting the slot back to them
    when llama.cpp would otherwise reuse more."""

    slot: int
    reuse: int
    cut: bool
    children: tuple[int, ...] = ()  # the slots held for the request's extra candidates


class SlotPool:
    """The llama.cpp slots, one held by each request or stepper while it runs, with what each
    slot's cache may offer the next prompt.

    Pinning matters for steppers too: left to choose, llama.cpp may hand a step to another idle
    slot whose cache shares the prompt, and the tokens it lacks are then evaluated as a batch, not
    one at a time: three haiku candidates stepped side by side came out two ways in six runs of the
    same seeds; pinned, 16 runs came out one way. A request's extra candidates (`n`) go to the
    lowest-numbered slots idle in llama.cpp, which may include a stepper's between two of its
    steps; a record that such a clearing outdates only means a cold prefill, never another text."""

    def __init__(self, slots: int, ubatch: int) -> None:
        self.ubatch = ubatch
        self._slots = slots
        self._free = set(range(slots))
        self._records: list[list[int]] = [[] for _ in range(slots)]
        self._changed = threading.Condition()
        self._gate = threading.Lock()  # held while a reused prompt's rest is evaluated (rule 3)

    def take(self, prompt: Sequence[int] | None = None, extra: int = 0, wait_s: float = 600.0) -> Plan:
        """A free slot: for a prompt, the one whose cache offers it most (then the one holding
        least, to keep the others' caches); for a stepper (no prompt), the one holding least.
        With `extra` candidates, also the slots llama.cpp will give them: the lowest-numbered
        idle ones (measured), which it clears when they finish; so a cache is kept in a high one."""
        deadline = time.monotonic() + wait_s
        with self._changed:
            while not self._free:
                if not self._changed.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise BackendError(
                        f"no llama.cpp slot came free in {wait_s:.0f} s; raise FABULA_LLAMACPP_SLOTS", engine="llamacpp"
                    )

            def offer(slot: int) -> tuple[int, int, int]:
                reuse = reusable_prefix(prompt, self._records[slot], self.ubatch) if prompt else 0
                # a few shared tokens (a chat template's header) are not worth another prompt's cache
                return (reuse if reuse >= MIN_REUSE else 0), -len(self._records[slot]), slot

            slot = max(self._free, key=offer)
            alone = len(self._free) == self._slots  # rule 3: no other request holds a slot
            children = tuple(sorted(self._free - {slot})[:extra])
            record = self._records[slot]
            for taken in (slot, *children):
                self._free.discard(taken)
                self._records[taken] = []  # unknown until the request reports what it left there
            reuse = reusable_prefix(prompt, record, self.ubatch) if prompt and alone else 0
            if reuse < MIN_REUSE:
                return Plan(slot, 0, False, children)
            shared = common_prefix(prompt or (), record)
            # llama.cpp reuses `shared` tokens where the record ends before them; where the prompt
            # runs past the whole record it may reuse more (the generated tokens after it)
            exact = reuse == shared and shared < len(record)
            return Plan(slot, reuse, not exact, children)

    def idle(self) -> bool:
        """No request or stepper holds a slot: a prompt could be reused now (rule 3)."""
        with self._changed:
            return len(self._free) == self._slots

    @contextmanager
    def prefill(self, plan: Plan) -> Iterator[Callable[[], None]]:
        """Around a request's launch, yielding `done` to call at its first token: a plan that
        reuses a prefix holds the gate until then, so no other request's tokens share its
        ubatches; any other request waits for a held gate before it starts."""
        if plan.reuse == 0:
            with self._gate:
                pass
            yield lambda: None
            return
        self._gate.acquire()
        held = [True]

        def done() -> None:
            if held[0]:
                held[0] = False
                self._gate.release()

        try:
            yield done
        finally:
            done()

    def give(self, plan: Plan, record: Sequence[int] = ()) -> None:
        """The plan's slots back, its own holding `record` for the next prompt (empty where unknown)."""
        with self._changed:
            self._records[plan.slot] = list(record)
            self._free.update((plan.slot, *plan.children))
            self._changed.notify_all()
