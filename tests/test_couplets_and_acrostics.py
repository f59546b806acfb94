"""Couplets (对联), acrostics (藏头诗 and English), parallel middle couplets, written on real models."""

from __future__ import annotations

import random

import pytest

from fabula.backends import get_backend
from fabula.errors import InvalidParam
from fabula.pipeline import write
from fabula.sampling import SamplingParams
from fabula.settings import get_settings
from fabula.verse.acrostic import check_acrostic
from fabula.verse.chinese import check_chinese
from fabula.verse.chinese_constraint import ChineseVerseConstraint
from fabula.verse.couplet import CoupletConstraint, check_couplet, check_first_line
from fabula.verse.kinds import verse_kind
from fabula.verse.parallel import char_class, classes_match, parallel_report
from tests.verse_walk import walk


def _walk(constraint: object, rng: random.Random, marks: str = "") -> str | None:
    return walk(constraint, rng, extra="事国读耳关" + marks)


def test_a_known_couplet_passes_and_each_rule_is_named() -> None:
    assert check_couplet("海阔凭鱼跃，天高任鸟飞。")["ok"]
    # the first line repeats 声; the second repeats its own 事 at the same places
    report = check_couplet("风声雨声读书声声声入耳，家事国事天下事事事关心。")
    assert report["ok"], report["violations"]
    assert not check_couplet("海阔凭鱼跃，天高任鸟翔飞。")["ok"]  # lengths differ
    violations = check_couplet("海阔凭鱼跃，天阔任鸟飞。")["violations"]
    assert any("'阔' is used in the first line" in v for v in violations)
    violations = check_couplet("风声雨声读书声声声入耳，家事国务天下事事事关心。")["violations"]
    assert any("position 4: the first line repeats '声' here, so the second must repeat '事'" in v for v in violations)
    violations = check_couplet("海阔凭鱼跃，天高任鸟树。")["violations"]
    assert "the second line must end 平, '树' is 仄" in violations


def test_a_first_line_must_end_ze_and_be_han() -> None:
    assert check_first_line(" 海阔凭鱼跃， ") == "海阔凭鱼跃"
    with pytest.raises(InvalidParam, match="'飞' .* is 平: is this the second line"):
        check_first_line("天高任鸟飞")
    with pytest.raises(InvalidParam, match="needs its first line"):
        check_first_line("sky")
    with pytest.raises(InvalidParam, match="2 to 15 Han characters"):
        check_first_line("海" * 16)


@pytest.mark.parametrize("first", ["海阔凭鱼跃", "风声雨声读书声声声入耳", None])
def test_every_couplet_the_constraint_completes_passes_and_faces_its_first_line(first: str | None) -> None:
    rng = random.Random(5)
    finished = 0
    for _ in range(30):
        constraint = CoupletConstraint(first, length=7)
        text = _walk(constraint, rng)
        if text is None:
            continue
        finished += 1
        whole = f"{first}，{text}" if first else text
        report = check_couplet(whole)
        assert report["ok"], (whole, report["violations"])
        assert report["parallel"]["matched_share"] == 1.0, report["parallel"]
    assert finished >= 10, finished


def test_character_classes_come_from_the_corpus_not_modern_tags() -> None:
    assert "名" in (char_class("月") or "") and "名" in (char_class("花") or "")  # jieba's dictionary: 月 m, 花 v
    assert classes_match("山", "水") and not classes_match("山", "不")
    report = parallel_report("明月松间照", "清泉石上流")  # 王维: a model parallel couplet
    assert report["matched_share"] >= 0.8, report
    assert classes_match("山", "㐀")  # a character the table does not know matches anything


def test_a_lvshi_writes_its_middle_couplets_parallel() -> None:
    rng = random.Random(11)
    finished = 0
    for _ in range(40):
        text = _walk(ChineseVerseConstraint("wulv"), rng)
        if text is None:
            continue
        finished += 1
        report = check_chinese(text, "wulv")
        assert report["ok"], report["violations"]
        assert {k: v["matched_share"] for k, v in report["parallel"].items()} == {"颔联": 1.0, "颈联": 1.0}
        assert not report["parallel"]["颔联"]["same_character"]
    assert finished >= 10, finished


def test_a_chinese_acrostic_keeps_its_form_and_its_heads() -> None:
    rng = random.Random(2)
    finished = 0
    for _ in range(30):
        text = _walk(ChineseVerseConstraint("qijue", heads="春风得意"), rng, marks="得意")
        if text is None:
            continue
        finished += 1
        report = check_acrostic(text, "春风得意", "qijue", chinese=True)
        assert report["ok"], report["violations"]
        assert report["firsts"] == "春风得意"
    assert finished >= 10, finished
    report = check_acrostic("白日依山尽，黄河入海流。欲穷千里目，更上一层楼。", "白黄欲上", "wujue", chinese=True)
    assert any("line 4 must begin with '上', begins with '更'" in v for v in report["violations"])


def test_acrostic_inputs_are_checked() -> None:
    assert verse_kind({"form": "acrostic", "head": "春风得意"}).inputs["shape"] == "wujue"  # type: ignore[union-attr]
    assert verse_kind({"form": "acrostic", "head": "一二三四五六七八"}).inputs["shape"] == "wulv"  # type: ignore[union-attr]
    with pytest.raises(InvalidParam, match="a 七言绝句 has 4 lines: give 4 heads"):
        verse_kind({"form": "acrostic", "head": "春风", "shape": "qijue"})
    with pytest.raises(InvalidParam, match="a haiku has 3 lines: give a head of 3 letters"):
        verse_kind({"form": "acrostic", "head": "MOON", "shape": "haiku"})
    with pytest.raises(InvalidParam, match="4 heads \\(a 绝句\\) or 8 \\(a 律诗\\)"):
        verse_kind({"form": "acrostic", "head": "春风"})
    with pytest.raises(InvalidParam, match="needs its heads"):
        verse_kind({"form": "acrostic"})
    with pytest.raises(InvalidParam, match="letters A-Z"):
        verse_kind({"form": "acrostic", "head": "M00N"})


def test_the_tang_model_writes_a_ci_with_its_repeat_a_couplet_and_an_acrostic() -> None:
    backend = get_backend("gpt", "tang-poems", get_settings())
    params = SamplingParams(seed=2, temperature=0.8, n=1)
    ci = write(backend, "poem", "春晚", {"form": "ci", "cipai": "如梦令"}, params)
    clauses = ci.text.splitlines()
    assert len(clauses) == 7 and clauses[4] == clauses[5], clauses  # 叠句: the trigram rule does not veto it
    assert ci.chosen.checks["ok"]  # type: ignore[index]
    couplet = write(backend, "poem", "春联", {"form": "couplet", "first": "海阔凭鱼跃"}, params)
    first, second = couplet.text.splitlines()
    assert first == "海阔凭鱼跃，" and len(second.rstrip("。")) == 5
    assert couplet.chosen.checks["ok"]  # type: ignore[index]
    acrostic = write(backend, "poem", "春", {"form": "acrostic", "head": "春风得意"}, params)
    assert [line[0] for line in acrostic.text.splitlines()] == list("春风得意")


def test_the_default_model_writes_an_english_acrostic(settings: object) -> None:
    backend = get_backend("llamacpp", "", get_settings())
    work = write(backend, "poem", "the moon", {"form": "acrostic", "head": "moon"}, SamplingParams(seed=1, n=1))
    lines = work.text.splitlines()
    assert "".join(line[0] for line in lines) == "MOON", lines  # capitals, no blank line between
    report = work.chosen.checks
    assert report is not None and report["ok"] and report["firsts"] == "MOON", report
