"""Ci by tune pattern: the table read off the corpus, the check, and the constraint that writes it."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from fabula.cli.main import cli
from fabula.errors import FormError, InvalidParam
from fabula.verse.chinese_constraint import CiConstraint
from fabula.verse.cipai import TUNES, build_table, check_ci, cipai, load_table
from fabula.verse.kinds import verse_kind
from tests.verse_walk import walk

# 李清照's two 如梦令 (the tune's model poems) and 苏轼's 水调歌头
XITING = "常记溪亭日暮，沉醉不知归路。兴尽晚回舟，误入藕花深处。争渡，争渡，惊起一滩鸥鹭。"
HAITANG = "昨夜雨疏风骤，浓睡不消残酒。试问卷帘人，却道海棠依旧。知否，知否？应是绿肥红瘦。"
MINGYUE = (
    "明月几时有？把酒问青天。不知天上宫阙，今夕是何年。我欲乘风归去，又恐琼楼玉宇，高处不胜寒。起舞弄清影，"
    "何似在人间。转朱阁，低绮户，照无眠。不应有恨，何事长向别时圆？人有悲欢离合，月有阴晴圆缺，此事古难全。"
    "但愿人长久，千里共婵娟。"
)
RHYMES = "暗绿瘦骤旧渡路处鹭醉翠泪去绪许雨暮树絮住语女"  # 仄 rhyme characters, which the common pool lacks


def test_the_shipped_table_has_the_tunes_and_their_shapes_as_the_corpus_writes_them() -> None:
    table = load_table()
    assert set(TUNES) <= set(table)
    rumeng = table["如梦令"].shapes[0]
    assert rumeng.lengths == (6, 6, 5, 6, 2, 2, 6)
    assert rumeng.clauses[5].repeats == 4  # 知否，知否
    assert "".join(c.rhyme or "-" for c in rumeng.clauses) == "AA-AAAA"
    pusaman = table["菩萨蛮"].shapes[0]
    assert "".join(c.rhyme or "-" for c in pusaman.clauses) == "AABBCCDD"  # four rhymes, two lines each
    assert len(table["水调歌头"].shapes) == 3  # its long sentences are pointed three ways
    assert all(c.punct in "，。、" for tune in table.values() for s in tune.shapes for c in s.clauses)


def test_building_reads_shapes_tones_rhymes_and_repeats_off_the_records() -> None:
    records = [{"title": "如梦令", "lines": [XITING]}, {"title": "如梦令・春晚", "lines": [HAITANG]}] * 3
    records.append({"title": "如梦令", "lines": ["一二三，四五六七。"]})  # a stray shape, under 15%
    records.append({"title": "别的调", "lines": [MINGYUE]})
    table = build_table(records, ["如梦令"])
    assert list(table) == ["如梦令"]
    shapes = table["如梦令"].shapes
    assert [s.lengths for s in shapes] == [(6, 6, 5, 6, 2, 2, 6)] and shapes[0].poems == 6
    clauses = shapes[0].clauses
    assert clauses[5].repeats == 4 and all(c.repeats is None for c in clauses[:5])
    # 暮/骤 路/酒 舟/人 处/旧 渡/否 鹭/瘦: the two poems share a position's tone only where both agree
    assert clauses[0].tones[1] == "Z"  # 记 and 夜: 仄 in both
    assert clauses[2].rhyme is None and clauses[0].rhyme == clauses[1].rhyme == "A"
    with pytest.raises(FormError, match="no poem under the tune '西江月'"):
        build_table(records, ["西江月"])


def test_the_model_poems_pass_and_broken_ones_are_named() -> None:
    assert check_ci(XITING, "如梦令")["ok"]
    assert check_ci(HAITANG, "如梦令")["ok"]
    report = check_ci(MINGYUE, "水调歌头")
    assert report["ok"], report["violations"]
    assert report["shape"] == "5,5,6,5,6,6,5,5,5,3,3,3,4,7,6,6,5,5,5"  # the second of its shapes
    broken = check_ci(XITING.replace("争渡，争渡", "争渡，归去"), "如梦令")
    assert not broken["ok"] and any("should repeat clause 5" in v for v in broken["violations"])
    short = check_ci("常记溪亭日暮，沉醉不知归路。", "如梦令")
    assert short["violations"][0].startswith("如梦令 needs clauses of 6,6,5,6,2,2,6 characters; found 6,6")
    unrhymed = check_ci(XITING.replace("鸥鹭", "鸥鸣"), "如梦令")
    assert any(v.startswith("rhyme A:") and "'鸣'" in v for v in unrhymed["violations"])
    with pytest.raises(FormError, match="cipai '如梦' is not in the tune table; choose one of: 如梦令"):
        cipai("如梦")


def _random_ci(name: str, rng: random.Random) -> str | None:
    return walk(CiConstraint(name), rng, extra=RHYMES)


@pytest.mark.parametrize("name", sorted(load_table()))
def test_every_ci_the_constraint_completes_passes_the_check(name: str) -> None:
    rng = random.Random(3)
    finished = 0
    for _ in range(25):
        text = _random_ci(name, rng)
        if text is None:
            continue
        finished += 1
        report = check_ci(text, name)
        assert report["ok"], (text, report["violations"])
    assert finished >= 5, finished


def test_the_constraint_forces_the_repeat_and_the_punctuation() -> None:
    c = CiConstraint("如梦令")
    s = c.advance(c.initial(), "常记溪亭日暮。沉醉不知归路。兴尽晚回舟，误入藕花深处。争渡")
    assert s is not None and c.forced(s) == "。"
    s = c.advance(s, "。")
    assert c.forced(s) == "争" and c.advance(s, "归") is None
    assert c.advance(s, "争渡。") is not None


def test_a_ci_needs_its_tune() -> None:
    with pytest.raises(InvalidParam, match="a ci needs its tune: --set cipai=NAME"):
        verse_kind({"form": "ci"})
    assert verse_kind({"form": "ci", "cipai": "如梦令"}).title == "词·如梦令"  # type: ignore[union-attr]


def test_check_poem_reads_a_ci_from_a_file(tmp_path: Path) -> None:
    poem = tmp_path / "ci.txt"
    poem.write_text(XITING.replace("，", "，\n").replace("。", "。\n"), encoding="utf-8")
    args = ["check", "poem", str(poem), "--form", "ci", "--set", "cipai=如梦令", "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["cipai"] == "如梦令"
    result = CliRunner().invoke(cli, [*args[:-2], "cipai=浣溪沙", "--json"])
    assert result.exit_code == 1 and not json.loads(result.stdout)["ok"]
    result = CliRunner().invoke(cli, ["check", "poem", str(poem), "--form", "ci"])
    assert result.exit_code == 2 and "a ci needs its tune" in result.output


def test_song_ci_become_training_lines_titled_by_tune_and_a_theme_from_the_ci() -> None:
    from fabula.data.poetry import clean_ci, with_theme

    record = {"title": "如梦令 春晚", "lines": ["昨夜雨疏风骤，浓睡不消残酒。", "试问卷帘人，却道海棠依旧。"]}
    line = clean_ci(record)
    assert line == "《如梦令》昨夜雨疏风骤，浓睡不消残酒。试问卷帘人，却道海棠依旧。"
    themed = with_theme(line)
    tune, theme = themed[1 : themed.index("》")].split("，")
    assert tune == "如梦令" and len(theme) == 2 and theme in line and themed.endswith(line[5:])
    assert with_theme(line) == themed  # the same ci always gets the same theme
    assert clean_ci({"title": "定风波", "lines": ["浦映□花花映浦。无尽处。"]}) is None  # a lost character
    assert clean_ci({"title": "失调名", "lines": ["多情到了多病"]}) is None  # no ending


def test_a_ci_is_written_by_the_ci_model_told_its_tune_and_theme() -> None:
    from fabula.gpt.registry import available
    from fabula.service.write import WriteJob, engine_for
    from fabula.settings import Settings
    from fabula.verse.kinds import verse_kind

    inputs = {"form": "ci", "cipai": "如梦令"}
    assert engine_for(WriteJob(form="poem", prompt="春晚", inputs=inputs), Settings()) == ("gpt", "song-ci")
    assert engine_for(WriteJob(form="poem", prompt="春晚", inputs={"form": "wujue"}), Settings()) == ("gpt", "")
    assert "song-ci" in available(Path("/nonexistent"))  # shipped with the package
    kind = verse_kind(inputs)
    assert kind is not None and kind.continuation("春晚") == "《如梦令，春晚》"
    assert kind.continuation(" ") == "《如梦令》"
