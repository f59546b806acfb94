"""Regulated Chinese verse: length, 中华新韵 rhyme and 平仄, on poems whose status is known."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from fabula.cli.main import cli
from fabula.verse.chinese import char_tone, check_chinese, rhymes_of

DENG_GUANQUE_LOU = "白日依山尽，\n黄河入海流。\n欲穷千里目，\n更上一层楼。"  # 五绝, 仄起, 尤
ZAO_FA_BAIDI = "朝辞白帝彩云间，千里江陵一日还。\n两岸猿声啼不住，轻舟已过万重山。"  # 七绝, 平起首句入韵
JING_YE_SI = "床前明月光，\n疑是地上霜。\n举头望明月，\n低头思故乡。"  # 古绝: free of 平仄 rules
CHUN_WANG = "国破山河在，城春草木深。\n感时花溅泪，恨别鸟惊心。\n烽火连三月，家书抵万金。\n白头搔更短，浑欲不胜簪。"


def test_tones_and_rhymes_with_heteronyms() -> None:
    assert char_tone("山").ping and not char_tone("山").ze
    assert char_tone("月").ze and not char_tone("月").ping
    assert char_tone("看").ping and char_tone("看").ze  # kān / kàn
    assert "寒" in rhymes_of("还") and "开" in rhymes_of("还")  # huán / hái
    assert rhymes_of("诗") == ("支",) and rhymes_of("西") == ("齐",)


def test_regulated_quatrains_pass() -> None:
    five = check_chinese(DENG_GUANQUE_LOU, "wujue")
    assert five["ok"] and five["rhyme"] == "尤" and five["pattern"] == "仄起，首句不入韵"
    seven = check_chinese(ZAO_FA_BAIDI, "qijue")
    assert seven["ok"], seven["violations"]
    assert seven["pattern"] == "平起，首句入韵" and seven["rhyme"] == "寒"


def test_violations_are_named_character_by_character() -> None:
    report = check_chinese(JING_YE_SI, "wujue")
    assert not report["ok"]
    assert any("'上' is 仄" in v and "needs 平" in v for v in report["violations"])
    short = check_chinese("白日依山尽\n黄河入海流", "wujue")
    assert "五言绝句 needs 4 lines, found 2" in short["violations"]
    assert any("has 7 characters, needs 5" in v for v in check_chinese(ZAO_FA_BAIDI, "wujue")["violations"])


def test_rhyme_system_is_modern_and_says_so() -> None:
    # 簪 rhymed with 深/心/金 in 平水韵 (侵), but reads zān today: 中华新韵 puts it in 寒.
    report = check_chinese(CHUN_WANG, "wulv")
    assert report["rhyme_system"] == "中华新韵"
    assert any("'簪' 寒" in v for v in report["violations"])


def test_check_command_on_chinese(tmp_path: Path) -> None:
    poem = tmp_path / "poem.txt"
    poem.write_text(DENG_GUANQUE_LOU, encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", "poem", str(poem), "--form", "wujue", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["ok"]
    result = CliRunner().invoke(cli, ["check", "poem", str(poem), "--form", "qijue", "--json"])
    assert result.exit_code == 1 and not json.loads(result.stdout)["ok"]
