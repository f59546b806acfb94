"""Form templates render from data files, refuse bad inputs by name, and never re-interpret user text."""

from __future__ import annotations

import pytest

from fabula.errors import FormError
from fabula.forms import FORMS, get_form


@pytest.mark.parametrize("name", FORMS)
def test_every_form_renders_with_defaults(name: str) -> None:
    form = get_form(name)
    rendered = form.render(None, {})
    assert [m.role for m in rendered.messages] == ["system", "user"]
    assert form.default_prompt in rendered.messages[1].content
    assert form.default_prompt in rendered.completion_prompt
    assert "{" not in rendered.messages[1].content
    assert form.template_id == f"{name}@{form.version}"


def test_story_inputs_fill_the_template() -> None:
    rendered = get_form("story").render("a cat detective", {"genre": "mystery", "tone": "funny"})
    user = rendered.messages[1].content
    assert "mystery" in user and "funny" in user and "a cat detective" in user


def test_user_text_with_braces_is_inserted_verbatim() -> None:
    rendered = get_form("story").render("the {genre} of {nothing} {0}", {})
    assert "the {genre} of {nothing} {0}" in rendered.messages[1].content


def test_unknown_input_is_named() -> None:
    with pytest.raises(FormError, match="no input 'mood'.*genre, tone, length"):
        get_form("story").render("x", {"mood": "sad"})


def test_choice_outside_the_list_is_refused() -> None:
    with pytest.raises(FormError, match="length='epic'.*flash, short, medium"):
        get_form("story").render("x", {"length": "epic"})


def test_empty_prompt_is_refused_and_unknown_form_named() -> None:
    with pytest.raises(FormError, match="prompt is empty"):
        get_form("poem").render("   ", {})
    with pytest.raises(FormError, match="form 'sonnet' is unknown"):
        get_form("sonnet")


def test_validators_judge_text() -> None:
    poem = get_form("poem")
    free = poem.resolve_inputs("snow", {})
    good = {v["check"]: v["passed"] for v in poem.validate("snow\non the roofs\nquiet as breath\nfalls", free)}
    bad = {v["check"]: v["passed"] for v in poem.validate("one single line of prose only", free)}
    assert good["min_lines"] and not bad["min_lines"]
    story = get_form("story")
    assert not {v["check"]: v["passed"] for v in story.validate("Too short.", {})}["min_words"]
    haiku = poem.resolve_inputs("a pond", {"form": "haiku"})
    verdicts = {v["check"]: v for v in poem.validate("An old silent pond\nA frog jumps into the pond\nSplash", haiku)}
    assert not verdicts["verse_form"]["passed"] and "line 3 has 1 syllables" in verdicts["verse_form"]["detail"]


def test_poem_form_input_chooses_the_instruction() -> None:
    rendered = get_form("poem").render("autumn rain", {"form": "sonnet"})
    assert "fourteen lines of ten syllables" in rendered.messages[1].content
    assert "Shakespearean sonnet about autumn rain" in rendered.completion_prompt
    with pytest.raises(FormError, match="form='villanelle' is not allowed"):
        get_form("poem").render("x", {"form": "villanelle"})
