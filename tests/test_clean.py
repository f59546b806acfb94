"""Cleaners remove leaked template text and report every change they make."""

from __future__ import annotations

from fabula.post.clean import clean
from fabula.post.rank import choose, score
from fabula.types import Candidate, Completion


def checks(result: object) -> set[str]:
    return {v["check"] for v in result.verdicts}  # type: ignore[attr-defined]


def test_special_tokens_and_role_header_removed() -> None:
    result = clean("assistant\nThe sea was calm.<|im_end|><|im_start|>user")
    assert result.text == "The sea was calm."
    assert {"end_of_turn", "role_header"} <= checks(result)


def test_stray_control_tokens_removed() -> None:
    result = clean("The sea<|reserved_7|> was calm.<pad>")
    assert result.text == "The sea was calm."
    assert "special_tokens" in checks(result)


def test_preamble_and_prompt_echo_removed() -> None:
    result = clean("Sure! Here is a story about a fox:\n\nThe fox ran.", prompt="a fox")
    assert result.text == "The fox ran."
    assert "preamble" in checks(result)
    echo = clean("a lighthouse keeper finds a bottle. She opened it.", prompt="a lighthouse keeper finds a bottle.")
    assert echo.text == "She opened it." and "prompt_echo" in checks(echo)


def test_truncated_tail_dropped_only_when_truncated() -> None:
    text = "She opened the door. The wind came in and"
    assert clean(text, truncated=True).text == "She opened the door."
    assert clean(text, truncated=False).text == text


def test_clean_text_is_untouched_and_reports_nothing() -> None:
    text = "Snow on the roofs.\n\nQuiet as breath."
    result = clean(text)
    assert result.text == text and result.verdicts == []


def _candidate(text: str, logprob: float, passed: bool) -> Candidate:
    completion = Completion(text, "stop", 1, completion_tokens=4, token_logprobs=(logprob,) * 4)
    verdicts = [{"check": "x", "passed": passed, "detail": "", "severity": "error"}]
    return Candidate(text, text, score(text, completion), verdicts, completion)


def test_choose_prefers_passing_then_fluent_and_says_why() -> None:
    cands = [_candidate("a b c d", -0.1, False), _candidate("e f g h", -2.0, True), _candidate("i j k l", -1.0, True)]
    best, why, scores = choose(cands)
    assert best == 2
    assert "2 of 3 that passed" in why
    assert "over candidate 2" in why and "mostly by likelihood (-1.0 vs -2.0)" in why
    assert [s["rank_score"] for s in scores] == [-0.1, -2.0, -1.0]


def test_loops_score_lower() -> None:
    loop = "the cat sat down " * 10
    fresh = "a quiet fox crossed the frozen river under a low moon and the reeds bent away from it"
    a, b = _candidate(loop, -1.0, True), _candidate(fresh, -1.0, True)
    _, _, scores = choose([a, b])
    assert scores[0]["rank_score"] < scores[1]["rank_score"]
    assert scores[0]["rank_repetition"] < 0 == scores[1]["rank_repetition"]


def test_constrained_verse_is_never_cut() -> None:
    verse = "Here is a light upon the sea:\nIt shines for you, it shines for me"
    assert clean(verse, constrained=True, truncated=True).text == verse
    assert clean(verse).text != verse  # the same text from a free model loses its "preamble"


def test_repeated_lines_are_removed_and_reported() -> None:
    looped = "The sea was calm.\nThe gulls were gone.\nThe sea was calm.\nThe sea was calm.\nNight came."
    result = clean(looped)
    assert result.text == "The sea was calm.\nThe gulls were gone.\nNight came."
    assert "duplicate_lines" in checks(result)
