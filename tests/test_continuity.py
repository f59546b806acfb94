"""Continuity: facts from sentences, the ledger with pins, contradictions with both places, the
story so far under a budget, repetition across units, and the plan writer that resamples a
chapter contradicting the ones before it."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from fabula.backends.fake import FakeBackend
from fabula.cli.main import cli
from fabula.continuity.context import story_so_far
from fabula.continuity.ledger import pin
from fabula.continuity.manuscript import sentences, split_units
from fabula.continuity.repetition import repeated_per_thousand, repeats
from fabula.continuity.report import check_manuscript, report
from fabula.errors import InvalidParam
from fabula.plan.consistency import check_plan
from fabula.plan.cowrite import edit, new_plan
from fabula.plan.runner import PlanWriter
from fabula.settings import Settings
from tests.test_plan import SCRIPT

FIXTURES = Path(__file__).parent / "fixtures" / "continuity"
PLANTED = sorted(p.stem for p in FIXTURES.glob("*.toml"))
CONTROLS = sorted(p.stem for p in FIXTURES.glob("control_*.md"))


def _found(name: str) -> set[tuple[str, str, int]]:
    result = check_manuscript((FIXTURES / f"{name}.md").read_text(encoding="utf-8"))
    return {(c["kind"], c["entity"], c["second"]["chapter"]) for c in result["contradictions"]}


@pytest.mark.parametrize("name", PLANTED)
def test_every_planted_contradiction_is_found_and_nothing_else(name: str) -> None:
    planted = tomllib.loads((FIXTURES / f"{name}.toml").read_text(encoding="utf-8"))["planted"]
    assert _found(name) == {(p["kind"], p["entity"], p["chapter"]) for p in planted}


def test_the_fixture_plants_every_kind() -> None:
    from fabula.continuity.checks import KINDS

    planted = {p["kind"] for n in PLANTED for p in tomllib.loads((FIXTURES / f"{n}.toml").read_text())["planted"]}
    assert planted == set(KINDS)


@pytest.mark.parametrize("name", CONTROLS)
def test_a_clean_control_raises_no_alarm(name: str) -> None:
    """The controls hold the traps: memories of the dead, quoted speech, a lost thing found again,
    a room inside the house, a birthday, a flashback chapter, "dark" hair that is black."""
    assert _found(name) == set()


def test_each_contradiction_cites_both_sentences() -> None:
    result = check_manuscript((FIXTURES / "lighthouse.md").read_text(encoding="utf-8"))
    dead = next(c for c in result["contradictions"] if c["kind"] == "dead_acts")
    assert dead["first"] == {
        "chapter": 2,
        "sentence": "A wave took him from the jetty, and Tom drowned before anyone could reach the water.",
        "sentence_number": 3,
        "pinned": False,
    }
    assert dead["second"]["chapter"] == 3 and dead["second"]["sentence"].startswith("Tom smiled at her")
    assert set(dead) == {"kind", "entity", "first", "second", "detail"}
    tom = result["ledger"]["characters"]["Tom"]
    assert tom["alive"]["value"] is False and tom["alive"]["chapter"] == 2
    assert "lantern" not in [h["value"] for h in tom.get("holds", [])]  # lost in chapter 2


def test_speech_memories_and_pronouns_state_no_fact() -> None:
    text = (
        "# One\n\nTom died in the night.\n\n# Two\n\n"
        '"Tom walked here every morning," Mara said. Mara remembered how Tom laughed. He smiled. '
        "It was as if Tom stood beside her."
    )
    assert check_manuscript(text)["contradictions"] == []
    text += " Tom opened the door."
    found = check_manuscript(text)["contradictions"]
    assert [(c["kind"], c["second"]["sentence"]) for c in found] == [("dead_acts", "Tom opened the door.")]


def test_a_pinned_fact_holds_from_its_unit_and_is_cited() -> None:
    units = split_units("# One\n\nMara sailed to the mainland.\n\n# Two\n\nMara smiled at the harbour master.")
    assert report(units)["contradictions"] == []
    found = report(units, pins=[pin("Mara", "alive", "dead", 2)])["contradictions"]
    assert [c["kind"] for c in found] == ["dead_acts"] and found[0]["first"]["pinned"] is True
    back = report(units, pins=[pin("Mara", "alive", "dead", 1), pin("Mara", "alive", "alive", 2)])
    assert [c["second"]["chapter"] for c in back["contradictions"]] == [1]  # back to life in unit 2
    with pytest.raises(InvalidParam, match="attribute='mood' is not allowed"):
        pin("Mara", "mood", "sad", 1)
    with pytest.raises(InvalidParam, match="value='dying' is not allowed"):
        pin("Mara", "alive", "dying", 1)


def test_chapters_are_found_by_the_repeated_heading_level_or_chapter_lines() -> None:
    book = split_units("# Title\n\n*logline*\n\n## Chapter 1\n\nOne. Two.\n\n## Chapter 2\n\nThree.")
    assert [(u.number, u.heading, u.sentences) for u in book] == [
        (1, "Chapter 1", ("One.", "Two.")),
        (2, "Chapter 2", ("Three.",)),
    ]
    plain = split_units("CHAPTER I\nMr. Hale came in. He sat.\nChapter 2\nHe left.")
    assert [u.sentences for u in plain] == [("Mr. Hale came in.", "He sat."), ("He left.",)]
    assert len(split_units("No headings at all. Just prose.")) == 1
    assert sentences('"Come in," she said. He did!') == ('"Come in," she said.', "He did!")


def test_the_story_so_far_keeps_the_nearest_under_its_budget() -> None:
    summaries = [f"In chapter {i} someone did thing number {i} at the old mill by the river." for i in range(1, 7)]
    previous = "The end of chapter six, where the miller stood at the door. " * 3 + "He closed it."
    recap = story_so_far(summaries, previous, budget=120)
    assert recap.units == (4, 5, 6) and recap.passage_from == 6 and recap.tokens <= 120
    assert recap.text.index("thing number 4") < recap.text.index("thing number 6") < recap.text.index("He closed it.")
    assert "Earlier:" in recap.text and "thing number 3" not in recap.text
    assert story_so_far([], None).text == ""


def test_repetition_across_units_names_the_run_and_counts_per_thousand_words() -> None:
    first = "The keeper climbed the long stairs to the lamp room every night of the year."
    second = "At dusk again the keeper climbed the long stairs to the lamp room and waited."
    assert repeats(second, [("chapter 1", first)]) == [("chapter 1", "the keeper climbed the long stairs to the")]
    assert repeats("Nothing in common with it at all, not one run of words.", [("chapter 1", first)]) == []
    assert repeated_per_thousand([first, first]) == pytest.approx(1000 * 8 / 30)


def test_continuity_check_prints_the_contract_and_exits_zero(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["continuity", "check", str(FIXTURES / "orchard.md"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) >= {"contradictions", "ledger"} and len(data["contradictions"]) == 5
    for c in data["contradictions"]:
        assert set(c["first"]) >= {"chapter", "sentence"} and set(c["second"]) >= {"chapter", "sentence"}
    clean = CliRunner().invoke(cli, ["continuity", "check", str(FIXTURES / "control_orchard.md")])
    assert clean.exit_code == 0 and "0 contradictions" in clean.output
    binary = tmp_path / "book.md"
    binary.write_bytes(b"# One\n\n\xff\xfe not text")
    bad = CliRunner().invoke(cli, ["continuity", "check", str(binary)])
    assert bad.exit_code == 2 and "a UTF-8 Markdown or text manuscript (byte 7 is not UTF-8)" in bad.stderr


CHAPTER_ONE = (
    "Mara kept the light on Gull Rock. Tomas rowed out at dusk with the smugglers and never came back. "
    "At midnight Tomas drowned off the reef, and the sea kept him."
)
CONTRADICTING = (
    "The morning was grey and still over the island. Tomas smiled at Mara from the doorway of the cottage, "
    "and she let him in without a word."
)
FITTING = (
    "The morning was grey and still over the island. Mara walked the shore alone, looking for the boat, "
    "and found only an oar among the weed."
)


def _story(settings: Settings, chapters: list[str]) -> tuple[object, FakeBackend]:
    plan = new_plan("story", "A keeper and a smuggler.", template="kishotenketsu", cast=2, seed=1, context=False)
    fake = FakeBackend("scripted", settings, scripts=SCRIPT[:5] + chapters)
    return plan, fake


def test_a_chapter_that_contradicts_the_story_is_written_again(settings: Settings) -> None:
    plan, fake = _story(settings, [CHAPTER_ONE, CONTRADICTING, FITTING, FITTING + " Later.", FITTING + " Then."])
    PlanWriter(fake, lambda p: None).run(plan)  # type: ignore[arg-type]
    assert plan.units[1] == FITTING  # type: ignore[attr-defined]
    second = next(e for e in plan.log if e["step"] == "prose[1]")  # type: ignore[attr-defined]
    assert second["attempts"] == 2 and "Tomas is dead (chapter 1) but smiled in chapter 2" in second["failures"][0]
    assert second["unresolved"] == []


def test_a_contradiction_left_after_every_attempt_is_kept_and_reported(settings: Settings) -> None:
    chapters = [CHAPTER_ONE, CONTRADICTING, CONTRADICTING, CONTRADICTING, FITTING, FITTING + " Later."]
    plan, fake = _story(settings, chapters)
    PlanWriter(fake, lambda p: None).run(plan)  # type: ignore[arg-type]
    second = next(e for e in plan.log if e["step"] == "prose[1]")  # type: ignore[attr-defined]
    assert second["attempts"] == 3 and second["unresolved"] == ["Tomas is dead (chapter 1) but smiled in chapter 2"]
    checked = check_plan(plan)  # type: ignore[arg-type]
    assert not checked["ok"] and any(
        "continuity (dead_acts)" in v and "[1.3 vs 2.2]" in v for v in checked["violations"]
    )


def test_an_edited_chapter_is_summarised_again_before_the_next_uses_it(settings: Settings) -> None:
    summaries = ["Tomas drowns off the reef while Mara keeps the light.", "Mara searches the shore and finds an oar."]
    plan = new_plan("story", "A keeper and a smuggler.", template="kishotenketsu", cast=2, seed=1)
    fake = FakeBackend("scripted", settings, scripts=SCRIPT[:5] + [CHAPTER_ONE, summaries[0], FITTING, summaries[1]])
    writer = PlanWriter(fake, lambda p: None)
    for step in plan.steps()[:7]:
        writer.write_step(plan, step)
    assert plan.summaries[1]["text"] == summaries[1]
    edit(plan, "prose[0]", CHAPTER_ONE.replace("Tomas drowned", "Tomas vanished"))
    third = (
        "Weeks passed. Mara painted the lamp room white, mended every net on the island and wrote a long letter home."
    )
    assert len(third.split()) >= 20  # a chapter shorter than that is refused
    fake.scripts = [
        "Tomas vanishes off the reef while Mara keeps the light.",
        third,
        "Mara paints and writes for help.",
    ]
    fake._served = 0
    writer.write_step(plan, "prose[2]")
    assert plan.summaries[0]["text"] == "Tomas vanishes off the reef while Mara keeps the light."
    prompt = fake.requests[-2].messages[-1].content  # chapter three's
    assert "Tomas vanishes" in prompt and "Tomas drowns" not in prompt  # the new summary, not the stale one


def test_a_verb_in_chapter_two_is_told_the_story_so_far(settings: Settings) -> None:
    """The co-writing verbs get the same recap: the chapters before this one, and how the last ended."""
    from fabula.cowrite.manuscript import Manuscript
    from fabula.sampling import SamplingParams
    from fabula.service.drafts import VerbCall, run_call, so_far

    book = Manuscript("m1", "Gull Rock")
    book.add("One", CHAPTER_ONE)
    notes = book.add("Notes", "Ideas for later: a storm, a letter.", kind="note")
    two = book.add("Two", FITTING)
    assert so_far(book, book.documents[0]) == "" and so_far(book, notes) == ""
    recap = so_far(book, two)
    assert recap.startswith("Story so far:\nChapter 1: Mara kept the light on Gull Rock.")
    assert 'The previous chapter ended: "' in recap and "the sea kept him." in recap and "Ideas" not in recap
    fake = FakeBackend("scripted", settings, scripts=["The morning was grey. Mara walked the shore alone."])
    call = VerbCall("shrink", 0, len(FITTING), n=1, backend=fake)
    run_call(two, [], call, SamplingParams(max_tokens=60), settings, recap)
    assert "Story so far:" in fake.requests[0].messages[-1].content


def test_a_pin_names_a_unit_the_plan_has() -> None:
    from fabula.service.continuity import add_pin, remove_pin

    plan = new_plan("story", "A keeper.", template="five-act", cast=2, seed=1)  # no scenes yet: five beats
    assert add_pin(plan, "Tom", "alive", "dead", 5)["number"] == 1
    with pytest.raises(InvalidParam, match="from=6 is not allowed: a unit of the plan: 1 to 5"):
        add_pin(plan, "Tom", "alive", "dead", 6)
    assert remove_pin(plan, 1)["entity"] == "Tom" and plan.pins == []
    with pytest.raises(InvalidParam, match="none: the plan has no pinned fact"):
        remove_pin(plan, 1)


def test_a_phrase_said_a_fourth_time_within_two_thousand_words_is_crowded() -> None:
    from fabula.continuity.repetition import crowded_phrases

    phrase = "she walked to the edge of the cliff"
    assert crowded_phrases(f"{phrase}. " * 4)[0] == ("she walked to the edge of", 4)
    assert crowded_phrases(f"{phrase}. " * 3) == []  # three times is style
    spread = (f"{phrase}. " + "and then the tide came in " * 400) * 4  # 2,400 words apart
    assert [p for p, _ in crowded_phrases(spread) if "cliff" in p or "walked" in p] == []
