"""Story bibles in and out of SillyTavern World Info and NovelAI lorebooks, with no field lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fabula.cowrite.lorebook import read_lorebook, write_lorebook
from fabula.errors import InvalidParam

# an entry as SillyTavern's world-info.js writes it (newWorldInfoEntryTemplate and the fields its
# editor adds), every field set to a value other than its default
ST_ENTRY = {
    "uid": 7, "key": ["Gull Rock", "the rock"], "keysecondary": ["storm"], "comment": "Gull Rock",
    "content": "A bare granite island with a lighthouse of a hundred and twelve steps.",
    "constant": False, "vectorized": True, "selective": True, "selectiveLogic": 2, "addMemo": True,
    "order": 250, "position": 4, "disable": False, "excludeRecursion": True, "preventRecursion": True,
    "delayUntilRecursion": 1, "probability": 80, "useProbability": True, "depth": 2, "group": "places",
    "groupOverride": True, "groupWeight": 60, "scanDepth": 3, "caseSensitive": True, "matchWholeWords": True,
    "useGroupScoring": True, "automationId": "a1", "role": 1, "sticky": 2, "cooldown": 3, "delay": 1,
    "displayIndex": 4, "outletName": "", "triggers": ["normal"], "ignoreBudget": True,
    "characterFilter": {"isExclude": True, "names": ["Mara"], "tags": []},
}  # fmt: skip
NAI_ENTRY = {
    "text": "Mara, the keeper: sixty, patient, counts everything.",
    "contextConfig": {"prefix": "", "suffix": "\n", "tokenBudget": 1, "reservedTokens": 0, "budgetPriority": 300,
                      "trimDirection": "trimBottom", "insertionType": "newline", "maximumTrimType": "sentence",
                      "insertionPosition": -1},
    "lastUpdatedAt": 1733000000000, "displayName": "Mara", "id": "5f1c", "keys": ["Mara", "keeper"],
    "searchRange": 1000, "enabled": False, "forceActivation": False, "keyRelative": False,
    "nonStoryActivatable": False, "category": "c1", "loreBiasGroups": [{"phrases": ["lamp"], "bias": 0.5}],
}  # fmt: skip


def test_sillytavern_world_info_round_trips_with_every_field(tmp_path: Path) -> None:
    always = {**ST_ENTRY, "uid": 8, "comment": "Tone", "key": [], "constant": True, "content": "Quiet, salt-bitten."}
    source = {"entries": {"7": ST_ENTRY, "8": always}, "name": "Gull Rock world"}
    path = tmp_path / "world.json"
    path.write_text(json.dumps(source))
    entries, meta = read_lorebook(path)
    assert [(e["kind"], e["name"], e["keywords"], e["order"]) for e in entries] == [
        ("fact", "Gull Rock", ["Gull Rock", "the rock"], 250),
        ("style", "Tone", [], 250),
    ]
    out = tmp_path / "again.json"
    assert write_lorebook(entries, meta, out) == "sillytavern"
    assert json.loads(out.read_text()) == source


def test_novelai_lorebook_round_trips_and_a_disabled_entry_is_not_injected(tmp_path: Path) -> None:
    from fabula.cowrite.manuscript import Manuscript

    source = {"lorebookVersion": 5, "entries": [NAI_ENTRY], "settings": {"orderByKeyLocations": True},
              "categories": [{"name": "people", "id": "c1"}]}  # fmt: skip
    path = tmp_path / "world.lorebook"
    path.write_text(json.dumps(source))
    entries, meta = read_lorebook(path)
    assert entries[0]["name"] == "Mara" and entries[0]["enabled"] is False and entries[0]["order"] == 300
    out = tmp_path / "again.lorebook"
    assert write_lorebook(entries, meta, out) == "novelai"
    assert json.loads(out.read_text()) == source
    manuscript = Manuscript("m1", "t", bible=entries)
    assert manuscript.entries() == []  # disabled in NovelAI: never reaches a prompt
    entries[0]["enabled"] = True
    assert [e.name for e in manuscript.entries()] == ["Mara"]
    # across formats: a NovelAI entry exported as World Info keeps what both formats name
    st = tmp_path / "as-st.json"
    write_lorebook(entries, meta, st)
    entry = json.loads(st.read_text())["entries"]["0"]
    assert (entry["key"], entry["comment"], entry["content"], entry["order"], entry["disable"]) == (
        ["Mara", "keeper"], "Mara", NAI_ENTRY["text"], 300, False,
    )  # fmt: skip


def test_a_file_of_neither_format_is_named(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    path.write_text(json.dumps({"name": "not a lorebook"}))
    with pytest.raises(InvalidParam, match="neither SillyTavern World Info"):
        read_lorebook(path)
    with pytest.raises(InvalidParam, match=r"\.json \(SillyTavern World Info\) or \.lorebook"):
        write_lorebook([], None, tmp_path / "x.txt")
