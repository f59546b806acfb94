"""The verse validator on poems whose form is known, and on broken ones."""

from __future__ import annotations

import pytest

from fabula.errors import FormError
from fabula.verse.check import check_poem, detect_scheme, line_report
from fabula.verse.english import rhyme_key, syllables
from fabula.verse.forms import verse_form

HAIKU = "An old silent pond\nA frog jumps into the pond\nSplash! Silence again"
LIMERICK = (
    "There once was a man from Peru\nWho dreamed he was eating his shoe\nHe woke with a fright\n"
    "In the middle of the night\nTo find that his dream had come true"
)
QUATRAIN_ABAB = (
    "The night is calm and deep\nThe stars above are bright\nThe tired children sleep\nBeneath the silver light"
)


def test_syllables_and_rhyme_keys_from_the_dictionary() -> None:
    assert syllables("beautiful") == (3, True)
    assert syllables("flibbertigibbetzz")[1] is False  # estimated, and says so
    assert rhyme_key("light") == rhyme_key("delight") == "AY T"
    assert rhyme_key("light") != rhyme_key("late")


def test_known_good_poems_pass() -> None:
    assert check_poem(HAIKU, verse_form("haiku"))["ok"]
    report = check_poem(LIMERICK, verse_form("limerick"))
    assert report["ok"] and report["rhyme_scheme"] == "AABBA"
    assert check_poem(QUATRAIN_ABAB, verse_form("quatrain", "ABAB"))["ok"]


def test_every_violation_is_listed() -> None:
    report = check_poem("An old pond\nA frog jumps into the pond\nSplash", verse_form("haiku"))
    assert not report["ok"]
    assert any("line 1 has 3 syllables, needs 5" in v for v in report["violations"])
    assert any("line 3 has 1 syllables" in v for v in report["violations"])
    aabb = check_poem(QUATRAIN_ABAB, verse_form("quatrain", "AABB"))
    assert not aabb["ok"] and any("does not rhyme" in v for v in aabb["violations"])


def test_line_count_repeated_end_word_and_limerick_shape() -> None:
    assert "needs 14 lines, found 3" in check_poem(HAIKU, verse_form("sonnet"))["violations"][0]
    repeated = "The sun is in the sky\nThe sun is in the sky\nThe bird will fly away\nAnd I will stay"
    report = check_poem(repeated, verse_form("quatrain", "AABB"))
    assert any("repeats the end word" in v for v in report["violations"])
    flat = LIMERICK.replace("He woke with a fright", "He woke up one morning with quite a great fright")
    assert any("longer than lines 3 and 4" in v for v in check_poem(flat, verse_form("limerick"))["violations"])


def test_unknown_words_are_reported_as_estimates() -> None:
    report = line_report("the zorblax sang")
    assert report["estimated_words"] == ["zorblax"]
    assert detect_scheme([line_report("bright light"), line_report("dark night"), line_report("zorblax")]) == "AA-"


def test_unknown_form_is_named() -> None:
    with pytest.raises(FormError, match="verse form 'villanelle' is unknown"):
        verse_form("villanelle")


def test_check_command_json_and_exit_codes(tmp_path: object) -> None:
    import json
    from pathlib import Path

    from click.testing import CliRunner

    from fabula.cli.main import cli

    good = Path(str(tmp_path)) / "haiku.txt"
    good.write_text(HAIKU)
    result = CliRunner().invoke(cli, ["check", "poem", str(good), "--form", "haiku", "--json"])
    data = json.loads(result.stdout)
    assert result.exit_code == 0 and data["ok"] and data["violations"] == []
    bad = CliRunner().invoke(cli, ["check", "poem", str(good), "--form", "sonnet", "--json"])
    assert bad.exit_code == 1 and not json.loads(bad.stdout)["ok"]
    human = CliRunner().invoke(cli, ["check", "poem", str(good), "--form", "haiku"])
    assert "keeps the form" in human.stdout
    missing = CliRunner().invoke(cli, ["check", "poem", "nope.txt", "--form", "haiku"])
    assert missing.exit_code == 2 and "does not exist" in missing.output
