"""Prompt reuse keeps every logit: the rule, the slot pool, and the engine against cold prefills."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from fabula.backends.llamacpp import LlamaCppBackend
from fabula.backends.prompt_reuse import MIN_REUSE, Plan, SlotPool, clean_prefix, common_prefix, reusable_prefix
from fabula.errors import BackendError
from fabula.sampling import SamplingParams
from fabula.settings import Settings
from fabula.types import Completion, Request

U = 512  # llama.cpp's default ubatch, which the engine keeps

# ---- the rule ---------------------------------------------------------------------------------


def test_common_prefix() -> None:
    assert common_prefix([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix([1, 2], [1, 2, 3]) == 2
    assert common_prefix([], [1]) == 0


def test_reusable_prefix_keeps_the_last_ubatch_as_a_cold_prefill_has_it() -> None:
    cached = list(range(2000))
    # a 700-token prompt: a cold prefill's last ubatch has 188 tokens, so one left alone is refused
    assert reusable_prefix(cached[:700], cached, U) == 698  # 699 would leave the last token alone
    assert reusable_prefix(cached[:600] + [-1] * 100, cached, U) == 600
    assert reusable_prefix(cached[:699] + [-1], cached, U) == 698
    # 1,025 tokens: a cold prefill evaluates the last one alone, so must the reuse (a multiple of U)
    assert reusable_prefix(cached[:1025], cached, U) == 1024
    assert reusable_prefix(cached[:1000] + [-1] * 25, cached, U) == 512
    assert reusable_prefix(cached[:300] + [-1] * 725, cached, U) == 0
    # nothing shared, or a one-token prompt: nothing to reuse
    assert reusable_prefix([-1] * 50, cached, U) == 0
    assert reusable_prefix([0], cached, U) == 0


def test_clean_prefix_drops_a_last_token_evaluated_alone() -> None:
    assert clean_prefix(list(range(700)), U) == list(range(700))
    assert clean_prefix(list(range(1025)), U) == list(range(1024))


def test_the_pool_gives_the_slot_that_offers_most_and_cuts_where_llama_cpp_would_reuse_more() -> None:
    pool = SlotPool(3, U)
    a = list(range(100))
    for slot, record in ((0, a[:40]), (1, a), (2, [])):
        pool.give(Plan(slot, 0, False), record)
    plan = pool.take(a[:80] + [-1] * 20)
    # slot 1's record runs past the shared 80 tokens, so llama.cpp reuses exactly them
    assert plan == Plan(1, 80, False)
    pool.give(plan, a)
    # the same prompt as slot 0's record, and beyond: llama.cpp could reuse generated tokens too
    held = pool.take(a[:40] + [-1] * 10)
    assert held == Plan(0, 40, True)
    # while that request holds its slot, another prompt is prefilled cold (rule 3), on the slot
    # whose cache offers it most all the same
    assert pool.take(a[:90] + [-1] * 10) == Plan(1, 0, False)
    assert pool.take().slot == 2  # a stepper takes what is left
    assert not pool.idle()
    with pytest.raises(BackendError, match="FABULA_LLAMACPP_SLOTS"):
        pool.take(wait_s=0.05)
    for slot in range(3):
        pool.give(Plan(slot, 0, False))
    assert pool.idle()
    assert pool.take(a).reuse == 0  # every record was dropped when its slot was taken


def test_extra_candidates_get_the_lowest_slots_and_a_cache_is_kept_high() -> None:
    a = list(range(100))
    pool = SlotPool(4, U)
    assert pool.take(a).slot == 3  # nothing to reuse: the highest free slot
    pool.give(Plan(3, 0, False), a)
    plan = pool.take(a[:90] + [-1] * 10, extra=2)
    # llama.cpp gives extra candidates the lowest idle slots and clears them after: held for them
    assert plan == Plan(3, 90, False, (0, 1))
    stepper = pool.take()
    assert stepper.slot == 2
    pool.give(plan, a[:90] + [-1] * 10)
    pool.give(stepper)
    # 30 shared tokens are below MIN_REUSE: an empty slot is taken, and the cache in 3 kept
    assert pool.take(a[:30] + [-1] * 30) == Plan(2, 0, False)
    assert MIN_REUSE == 32


def test_a_prefill_that_reuses_holds_back_other_requests_until_its_first_token() -> None:
    pool = SlotPool(2, U)
    pool.give(Plan(1, 0, False), list(range(50)))
    reusing = pool.take(list(range(60)))
    assert reusing.reuse == 50 and reusing.cut
    started = []
    with pool.prefill(reusing) as done:
        waiting = threading.Thread(target=lambda: [pool.prefill(Plan(0, 0, False)).__enter__(), started.append(1)])
        waiting.start()
        waiting.join(timeout=0.2)
        assert not started  # held back while the reused prompt's rest is evaluated
        done()
        waiting.join(timeout=5)
        assert started


# ---- the engine against cold prefills ---------------------------------------------------------


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> tuple[LlamaCppBackend, LlamaCppBackend]:
    home = tmp_path_factory.mktemp("home")
    cold = LlamaCppBackend(
        "", Settings(home=home, threads=2, n_ctx=2048, llamacpp_slots=2, llamacpp_cache_prompt=False)
    )
    warm = LlamaCppBackend("", Settings(home=home, threads=2, n_ctx=2048, llamacpp_slots=2))
    return cold, warm


WORDS = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8").split()


def prompt_of(engine: LlamaCppBackend, words: list[str], tokens: int) -> str:
    """Text of the given words cut or padded (" the" is one token) to exactly `tokens` tokens."""
    low, high = 0, len(words)  # the most words that fit, by bisection
    while low < high:
        middle = (low + high + 1) // 2
        if len(engine.tokenize(" ".join(words[:middle]), add_special=True)) <= tokens:
            low = middle
        else:
            high = middle - 1
    text = " ".join(words[:low])
    while len(engine.tokenize(text, add_special=True)) < tokens:
        text += " the"
    assert len(engine.tokenize(text, add_special=True)) == tokens
    return text


def raw(text: str, seed: int = 11, n: int = 1) -> Request:
    return Request((), text, SamplingParams(max_tokens=10, seed=seed, n=n), raw=True)


def same(a: list[Completion], b: list[Completion]) -> bool:
    return [c.text for c in a] == [c.text for c in b] and [c.token_logprobs for c in a] == [c.token_logprobs for c in b]


def test_a_reused_prefix_gives_the_cold_prefills_logits(engines: tuple[LlamaCppBackend, LlamaCppBackend]) -> None:
    cold, warm = engines
    first = prompt_of(warm, WORDS[:400], 600)
    shared = prompt_of(warm, WORDS[:300], 420)
    steps = [
        (raw(first), 0),  # nothing cached yet
        (raw(shared + " " + " ".join(WORDS[900:960])), 400),  # a shared prefix (whole tokens of it, at least)
        (raw(shared + " " + " ".join(WORDS[900:960]), seed=12), 400),  # the whole prompt again: cut back
    ]
    for request, at_least in steps:
        expected, got = cold.complete(request), warm.complete(request)
        assert same(got, expected), request.completion_prompt[-80:]
        assert got[0].cached_tokens >= at_least
    # the prompt goes on with the text just generated (continue after the writer accepts it): the
    # generated tokens in the slot were decoded one at a time, so they are not reused
    previous = steps[-1][0].completion_prompt
    longer = previous + warm.complete(raw(previous))[0].text + " and then"
    expected, got = cold.complete(raw(longer)), warm.complete(raw(longer))
    assert same(got, expected)
    assert 0 < got[0].cached_tokens <= len(warm.tokenize(previous, add_special=True))


def test_reuse_around_a_last_token_evaluated_alone(engines: tuple[LlamaCppBackend, LlamaCppBackend]) -> None:
    """513 and 514 tokens: a cold prefill's last ubatch has one token, then two."""
    cold, warm = engines
    alone = prompt_of(warm, WORDS[:500], 513)
    pair = prompt_of(warm, WORDS[:500], 514)
    for request in (raw(alone), raw(pair), raw(alone, seed=3), raw(pair, seed=3, n=3), raw(pair, seed=4)):
        expected, got = cold.complete(request), warm.complete(request)
        assert same(got, expected)
    assert got[0].cached_tokens == 512  # the 514 tokens after the 514: cut back by two


def test_a_stepper_reuses_the_last_candidates_prompt(engines: tuple[LlamaCppBackend, LlamaCppBackend]) -> None:
    cold, warm = engines
    request = raw(prompt_of(warm, WORDS[:300], 300))

    def stepped(engine: LlamaCppBackend) -> list[list[tuple[int, str | None, float]]]:
        stepper = engine.stepper(request)
        tops = []
        for _ in range(6):
            top = stepper.top(5)
            tops.append(top)
            stepper.push(top[0][0])
        del stepper  # the slot goes back, its prompt on offer
        return tops

    reference = stepped(cold)
    assert stepped(warm) == reference
    assert stepped(warm) == reference  # the second from the first's slot
    plan = warm.slot_pool.take(warm.prompt_ids(request))
    warm.slot_pool.give(plan)
    assert plan.reuse >= 298
