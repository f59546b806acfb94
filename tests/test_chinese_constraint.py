"""The Chinese verse constraint admits only what the validator passes, and can always be completed."""

from __future__ import annotations

import random

import pytest

from fabula.verse.chinese import check_chinese
from fabula.verse.chinese_constraint import ChineseVerseConstraint
from tests.verse_walk import POOL, walk


def _random_poem(form: str, rng: random.Random) -> str | None:
    return walk(ChineseVerseConstraint(form), rng)


@pytest.mark.parametrize("form", ["wujue", "qijue", "wulv", "qilv"])
def test_every_completed_text_passes_the_validator(form: str) -> None:
    rng = random.Random(7)
    finished = 0
    for _ in range(60):
        poem = _random_poem(form, rng)
        if poem is None:
            continue
        finished += 1
        report = check_chinese(poem, form)
        assert report["ok"], (poem, report["violations"])
    assert finished >= 30


def test_rejections_name_the_rule() -> None:
    c = ChineseVerseConstraint("wujue")
    s = c.initial()
    assert c.advance(s, "a") is None  # not a Han character
    assert c.advance(s, "，") is None  # no punctuation before the line is full
    s = c.advance(s, "床前明月光")
    assert s is not None and s.punct_due
    assert c.advance(s, "。") is None  # line 1 ends with "，"
    assert c.advance(s, "\n") is None and not c.can_end(s)
    s = c.advance(s, "，")
    assert s is not None and s.at_line_start and s.line == 1
    with pytest.raises(ValueError, match="unknown Chinese form 'wuyan'"):
        ChineseVerseConstraint("wuyan")


def test_the_famous_quatrain_is_admitted_where_the_validator_admits_it() -> None:
    poem = "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"
    constraint = ChineseVerseConstraint("wujue")
    after = constraint.advance(constraint.initial(), poem)
    assert (after is not None and constraint.can_end(after)) == check_chinese(poem, "wujue")["ok"]


def test_rare_readings_do_not_count_when_generating() -> None:
    """至 is zhi4 (仄); pypinyin also lists a rare die2. The validator forgives it, the generator may not use it."""
    c = ChineseVerseConstraint("wujue")
    s = c.advance(c.initial(), "无主有奇节，可怜长不")
    assert s is not None
    assert c.advance(s, "至") is None
    assert c.advance(s, "别") is not None  # bie2: 平, 皆 as line 1's 节


def test_lyrics_constraint_output_passes_the_lyrics_checker() -> None:
    from fabula.forms import get_form
    from fabula.verse.lyrics import check_lyrics, song_sections

    form = get_form("lyrics")
    inputs = form.resolve_inputs("故乡", {"language": "zh", "structure": "VCVCB"})
    constraint = form.constrain(inputs)  # type: ignore[misc]
    rng = random.Random(3)
    finished = 0
    for _ in range(20):
        state, text = constraint.initial(), ""
        while not constraint.can_end(state):
            options = [(c, a) for c in POOL + "，。" if (a := constraint.advance(state, c)) is not None]
            if not options:
                break
            char, state = rng.choice(options)
            text += char
        else:
            finished += 1
            song = form.assemble(text, inputs)  # type: ignore[misc]
            report = check_lyrics(song, song_sections("VCVCB", language="zh"), "zh")
            assert report["ok"], (song, report["violations"])
    assert finished >= 10
