"""The verse constraint state machine, token by token, without a model."""

from __future__ import annotations

from pathlib import Path

import pytest

from fabula.verse.constraint import VerseConstraint
from fabula.verse.forms import verse_form
from fabula.verse.lexicon import Lexicon, load_lexicon


@pytest.fixture(scope="module")
def lexicon(tmp_path_factory: pytest.TempPathFactory) -> Lexicon:
    return load_lexicon(tmp_path_factory.mktemp("cache"))


def test_lexicon_is_built_cached_and_reloaded(tmp_path: Path) -> None:
    import fabula.verse.lexicon as module

    module._loaded = None  # forget the process-wide copy: build into this folder
    built = load_lexicon(tmp_path)
    files = list(tmp_path.glob("lexicon-v*.pickle"))
    assert len(files) == 1
    module._loaded = None
    again = load_lexicon(tmp_path)
    assert again is not built and again.words == built.words
    assert built.words["light"] == (1, "AY T") and "naacp" not in built.words
    assert len(built.rhyme_prefixes("AY T")) > 50


def feed(constraint: VerseConstraint, pieces: list[str]) -> object:
    state = constraint.initial()
    for piece in pieces:
        state = constraint.advance(state, piece)
        if state is None:
            return None
    return state


def test_a_haiku_is_accepted_token_by_token(lexicon: Lexicon) -> None:
    c = VerseConstraint(verse_form("haiku"), lexicon)
    pieces = [
        "An",
        " old",
        " silent",
        " pond",
        "\n",
        "A",
        " frog",
        " jumps",
        " into",
        " the",
        " pond",
        "\n",
        "Spl",
        "ash",
        "!",
        " Silence",
        " again",
    ]
    state = feed(c, pieces)
    assert state is not None and c.can_end(state)
    assert c.advance(state, "\n").done  # type: ignore[union-attr]


def test_syllable_budget_is_exact(lexicon: Lexicon) -> None:
    c = VerseConstraint(verse_form("haiku"), lexicon)
    assert feed(c, ["An", " old", " pond", "\n"]) is None  # 3 syllables, needs 5
    assert feed(c, ["An", " old", " silent", " pond", " now"]) is None  # 6 syllables
    assert feed(c, ["Beautiful", " cherry", " trees"]) is None  # 3 + 2 + 1 > 5
    state = feed(c, ["Beautiful", " blossoms", ","])
    assert state is not None and state.line_full  # type: ignore[attr-defined]


def test_partial_words_must_be_completable(lexicon: Lexicon) -> None:
    c = VerseConstraint(verse_form("haiku"), lexicon)
    assert feed(c, ["Qzx"]) is None
    assert feed(c, ["Sil"]) is not None
    assert feed(c, ["Sil", "ence"]) is not None
    assert feed(c, ["An", " sil", "verxx"]) is None


def test_rhyme_is_enforced_after_the_first_line_of_a_group(lexicon: Lexicon) -> None:
    c = VerseConstraint(verse_form("quatrain", "AABB"), lexicon)
    first = feed(c, ["The", " night", " is", " calm", " and", " still", " and", " bright", "\n"])
    assert first is not None
    line2 = ["The", " stars", " above", " are", " shining"]
    assert (
        feed(c, [*["The", " night", " is", " calm", " and", " still", " and", " bright", "\n"], *line2, " light"])
        is not None
    )
    assert (
        feed(c, [*["The", " night", " is", " calm", " and", " still", " and", " bright", "\n"], *line2, " dark"])
        is None
    )
    assert (
        feed(c, [*["The", " night", " is", " calm", " and", " still", " and", " bright", "\n"], *line2, " bright"])
        is None
    )  # the same end word is no rhyme


def test_weak_words_cannot_end_a_line_and_text_shape_rules(lexicon: Lexicon) -> None:
    c = VerseConstraint(verse_form("haiku"), lexicon)
    assert feed(c, ["Over", " the", " green", " hills", " the"]) is None
    assert feed(c, [" Over"]) is None  # no leading space
    assert feed(c, ["Over", "  the"]) is None  # no double space
    assert feed(c, ["Over", ".", ".", "."]) is None  # at most two marks in a row
    assert feed(c, ["Over", "7"]) is None
    assert feed(c, ["OvER"]) is None  # capitals only start a word


def test_free_verse_has_no_constraint(lexicon: Lexicon) -> None:
    with pytest.raises(ValueError, match="no fixed line lengths"):
        VerseConstraint(verse_form("free"), lexicon)
