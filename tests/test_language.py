"""Language identity: a work is in the language it was asked for, passage by passage."""

from __future__ import annotations

import json

import pytest

from fabula.backends.fake import FakeBackend
from fabula.pipeline import write
from fabula.post.language import check_language, expected_language
from fabula.sampling import SamplingParams
from fabula.settings import Settings

# What the embedded model wrote when it drifted (quests and a song in the stored benchmark results;
# a studio screenplay), and English of every kind it writes, including the short and the odd.
DRIFTED = [
    "Kai-führer hätte mit zwiebliche kaffeekinder mögen, die und der kathrin-mäler wird",
    "Sofia - El Mundo-El Día-El Cielo-la La Fiesta de las Arandóas, el sombrero",
    "Lindi ala kesinci sakala, bir yolda gitti ve eve döndü.",
    "Severa de la Luna, abriduada eternum, rustraea sunt cinereus, mensura caelestia",
]
ENGLISH = [
    "The keeper climbed the stairs as the storm broke over the reef.",
    "Autumn moonlight / a worm digs silently / into the chestnut",
    "Silence dances in.\nRaindrops dance on leaves,\nWarmth dances under the eaves.",
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want.",
    "Fresh rye! #bread #baking #yum",
]


@pytest.mark.parametrize("text", DRIFTED)
def test_drifted_text_is_not_english(text: str) -> None:
    ok, detail = check_language(text, "en")
    assert not ok and "not en" in detail


@pytest.mark.parametrize("text", ENGLISH)
def test_english_of_every_kind_is_english(text: str) -> None:
    assert check_language(text, "en")[0]


def test_one_drifted_passage_or_json_field_is_enough() -> None:
    story = f"{ENGLISH[0]}\n\n{DRIFTED[2]}\n\n{ENGLISH[0]}"
    ok, detail = check_language(story, "en")
    assert not ok and detail.startswith("passage 2 reads as tr")
    quest = json.dumps({"title": "The Lost Map", "steps": [{"text": ENGLISH[0]}, {"text": DRIFTED[0]}]})
    assert not check_language(quest, "en")[0]


def test_chinese_works_are_held_to_their_script() -> None:
    assert check_language("床前明月光，疑是地上霜。\n举头望明月，低头思故乡。", "zh")[0]
    assert not check_language("The moon is bright over the frost.", "zh")[0]
    song = "[Verse 1]\n春风吹绿江南岸\n明月何时照我还\n\n[Chorus]\n春风吹绿江南岸\n明月何时照我还"
    assert check_language(song, "zh") == (True, "100% of its letters are Han characters")  # labels are layout
    assert expected_language("poem", {"form": "wujue"}) == "zh" and expected_language("story", {}) == "en"


def test_a_drifted_candidate_is_resampled_and_one_that_stays_drifted_fails() -> None:
    settings = Settings()
    good = "The keeper climbed the stairs as the storm broke over the reef, and the lamp held."
    work = write(
        FakeBackend("", settings, scripts=[DRIFTED[2], good]), "story", "a keeper", params=SamplingParams(seed=1)
    )
    assert work.text == good and work.provenance["resampled"][0]["defect"].startswith("language: passage 1 reads as tr")
    stuck = write(FakeBackend("", settings, scripts=[DRIFTED[2]]), "story", "a keeper", params=SamplingParams(seed=1))
    assert not stuck.passed and any(f.startswith("language: passage 1 reads as tr") for f in stuck.chosen.failures())
