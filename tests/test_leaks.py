"""Leak checks: prompt and template text in a work is found by kind, cut where cutting mends it,
and otherwise sampled again; the forms' own structure is never flagged."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from fabula.backends.fake import FakeBackend
from fabula.pipeline import write
from fabula.post.leaks import check, find_leaks, first_leak
from fabula.sampling import SamplingParams
from fabula.settings import get_settings

FIXTURE = tomllib.loads((Path(__file__).parent / "fixtures" / "leaks.toml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("example", FIXTURE["leaked"], ids=lambda e: e["text"][:30])
def test_every_labelled_leak_is_found_as_its_kind(example: dict[str, object]) -> None:
    assert {leak.kind for leak in find_leaks(str(example["text"]))} == set(example["kinds"])  # type: ignore[arg-type]


@pytest.mark.parametrize("example", FIXTURE["clean"], ids=lambda e: e["text"][:30])
def test_no_clean_text_is_flagged(example: dict[str, str]) -> None:
    assert find_leaks(example["text"]) == []


def test_the_fixture_covers_every_kind() -> None:
    kinds = {kind for example in FIXTURE["leaked"] for kind in example["kinds"]}
    assert kinds == {"instruction_echo", "label", "template_field", "bible_label", "meta_narration", "id_in_name"}
    assert len(FIXTURE["clean"]) >= 12


def test_labels_and_bible_kinds_are_cut_from_prose_but_never_from_verse() -> None:
    leaked = "Verb: In the morning light\nthe radio (fact) hums, and Lina (character) listens."
    text, verdicts = check(leaked)
    assert text == "In the morning light\nthe radio hums, and Lina listens."
    assert [v["check"] for v in verdicts] == ["leak_repaired", "no_leak"]
    assert "label in 'Verb: In the morning light'" in verdicts[0]["detail"] and verdicts[1]["passed"]
    kept, verse_verdicts = check(leaked, constrained=True)  # cutting would break the metre
    assert kept == leaked
    assert [(v["check"], v["passed"], v["severity"]) for v in verse_verdicts] == [("no_leak", False, "error")]


def test_what_cutting_cannot_mend_fails_the_check_and_says_which() -> None:
    text, verdicts = check("The courier brings {narc_message}.")
    assert text == "The courier brings {narc_message}."
    assert not verdicts[-1]["passed"]
    assert "template_field in 'The courier brings {narc_message}.'" in verdicts[-1]["detail"]
    assert first_leak("Verb: In the morning light") is None  # a label alone is cut, not resampled
    meta = "The next sentence begins with Mara."
    assert first_leak(meta) == f"meta_narration in {meta!r}"


def test_a_leaking_candidate_is_sampled_again_and_the_work_is_clean() -> None:
    leaky = "The keeper lit the lamp. The next sentence begins with Mara, who waited by the door all night long."
    fresh = (
        "The keeper lit the lamp, and Mara waited by the door until the ferry's horn came over the water. "
        "Nobody came ashore that night. She folded the letter twice, put it in her coat, and climbed the "
        "ninety-nine stairs again to trim the wick before the wind rose."
    )
    backend = FakeBackend("", get_settings(), scripts=[leaky, fresh])
    work = write(backend, "story", "a lighthouse", params=SamplingParams(n=1, seed=5))
    assert work.text == fresh
    assert work.provenance["resampled"] == [
        {"candidate": 0, "defect": "meta_narration in " + repr(leaky[:77] + "..."), "seed": 6, "fixed": True}
    ]
    assert work.passed


def test_a_label_is_cut_from_the_work_and_the_verdict_says_so() -> None:
    labelled = "Setting: The harbour at dusk, gulls over the water, and Mara counting the boats that came home late."
    backend = FakeBackend("", get_settings(), scripts=[labelled])
    work = write(backend, "story", "a harbour", params=SamplingParams(n=1, seed=2))
    assert work.text.startswith("The harbour at dusk")
    assert "resampled" not in work.provenance
    repaired = [v for v in work.chosen.verdicts if v["check"] == "leak_repaired"]
    assert repaired and "label in 'Setting: The harbour" in repaired[0]["detail"]


def test_a_leak_that_outlasts_the_retries_fails_the_work() -> None:
    leaky = "Dear [NAME], the lamp is lit and the harbour is quiet tonight, and the boats are all home."
    backend = FakeBackend("", get_settings(), scripts=[leaky])
    work = write(backend, "story", "a letter", params=SamplingParams(n=1, seed=3))
    assert not work.passed
    assert [v["passed"] for v in work.chosen.verdicts if v["check"] == "no_leak"] == [False]
