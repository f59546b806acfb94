"""The originality index: an exact suffix array, the report's numbers, flagged copies, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from fabula.backends import close_all
from fabula.cli.main import cli
from fabula.errors import InvalidParam
from fabula.responsible.originality import OriginalityPolicy, check_text, covered
from fabula.responsible.reference import open_shards, register, tokenize
from fabula.responsible.suffix_array import build_suffix_array, longest_matches
from tests.conftest import scripted

CORPUS = (
    "The harbour lay grey under a low sky, and the fishing boats rocked at their moorings while the gulls "
    "wheeled and cried above the empty quay; old Marten mended his nets by the door of the chandlery, "
    "humming a song his mother had sung to him when the herring still came in their thousands every autumn "
    "and the whole town smelled of smoke and salt and tar from the first frost until the spring gales."
)
FRESH = (
    "A violet comet hung over the desert observatory. Priya counted its tail in degrees, wrote the number on "
    "her wrist, and laughed when the telescope's motor sighed like a tired cat."
)


def _brute(query: list[int], tokens: list[int]) -> list[int]:
    best = []
    for i in range(len(query)):
        top = 0
        for s in range(len(tokens)):
            k = 0
            while i + k < len(query) and s + k < len(tokens) and query[i + k] == tokens[s + k]:
                k += 1
            top = max(top, k)
        best.append(top)
    return best


def test_suffix_array_and_longest_matches_agree_with_brute_force() -> None:
    rng = np.random.default_rng(7)
    for _ in range(150):
        tokens = rng.integers(-1, 4, size=int(rng.integers(1, 70))).astype(np.int32)
        sa = build_suffix_array(tokens)
        assert sa.tolist() == sorted(range(len(tokens)), key=lambda i: tokens[i:].tolist())
        query = rng.integers(0, 4, size=int(rng.integers(1, 25))).astype(np.int32)
        found = longest_matches(query, tokens, sa)
        assert [m.length for m in found] == _brute(query.tolist(), tokens.tolist())
        for i, m in enumerate(found):
            assert tokens[m.offset : m.offset + m.length].tolist() == query[i : i + m.length].tolist()


def test_long_repeats_are_matched_past_the_probe() -> None:
    block = np.arange(200, dtype=np.int32)
    tokens = np.concatenate([block[:120], [-1], block, [-1], block[:60]]).astype(np.int32)
    found = longest_matches(block, tokens, build_suffix_array(tokens))
    assert found[0].length == 200 and found[150].length == 50


def test_tokens_ignore_case_punctuation_and_quotes_and_split_han() -> None:
    assert [t.text for t in tokenize("Mr. DARCY’s “pride”—白日依山")] == [
        "mr",
        "darcy's",
        "pride",
        "白",
        "日",
        "依",
        "山",
    ]


def test_coverage_marks_the_words_inside_matched_ngrams() -> None:
    lengths = np.array([0, 6, 5, 4, 3, 2, 1, 0, 0])
    assert covered(lengths, 5).tolist() == [False, True, True, True, True, True, True, False, False]


@pytest.fixture
def corpus_home(tmp_path: Path, fabula_home: Path) -> Path:
    folder = tmp_path / "harbour"
    folder.mkdir()
    (folder / "chapter1.txt").write_text(CORPUS, encoding="utf-8")
    register(fabula_home, "harbour", folder)
    return fabula_home


def test_a_lightly_edited_copy_is_flagged_with_its_source(corpus_home: Path) -> None:
    edited = CORPUS.replace("grey", "gray").replace("thousands", "hundreds").upper()  # two edits, new case
    report = check_text("It began like this. " + edited, corpus_home)
    assert report["flagged"] is True
    span = report["flagged_spans"][0]
    assert span["source"] == "harbour" and span["document"] == "chapter1.txt"
    assert span["covered_tokens"] >= 50
    assert report["longest_span_tokens"] >= 20
    assert report["score"] < 0.3
    assert report["novel_ngram_share"]["13"] < 0.5  # two edits break 26 of the 13-grams


def test_fresh_text_is_not_flagged_and_scores_one(corpus_home: Path) -> None:
    report = check_text(FRESH, corpus_home)
    assert report["flagged"] is False and report["flagged_spans"] == []
    assert report["score"] == 1.0 and set(report["novel_ngram_share"]) == {str(n) for n in range(5, 14)}
    assert report["longest_span_tokens"] < 5


def test_one_matched_13_gram_flags_by_default_and_the_rule_is_configurable(corpus_home: Path) -> None:
    quote = "the fishing boats rocked at their moorings while the gulls wheeled and cried"  # 13 words
    text = f"{FRESH} As the song goes, {quote}. Then silence."
    report = check_text(text, corpus_home)
    assert report["longest_span_tokens"] == 13 and report["flagged"] is True
    assert report["flagged_spans"][0]["text"] == quote
    lenient = check_text(text, corpus_home, OriginalityPolicy(min_overlap_tokens=20))
    assert lenient["flagged"] is False and lenient["longest_span_tokens"] == 13


def test_a_changed_source_is_indexed_again(corpus_home: Path, tmp_path: Path) -> None:
    shards, _ = open_shards(corpus_home)
    assert [s.name for s in shards] == ["harbour"]
    extra = "Seven silver keys were hidden under the seventh stair of the lighthouse by the keeper's daughter."
    (tmp_path / "harbour" / "chapter2.txt").write_text(extra, encoding="utf-8")
    assert check_text(extra, corpus_home)["longest_span_tokens"] == len(tokenize(extra))


def test_missing_corpora_are_named_with_the_command_that_fetches_them(fabula_home: Path) -> None:
    report = check_text(FRESH, fabula_home)
    assert report["sources"] == [] and report["flagged"] is False
    fixes = {m["name"]: m["fix"] for m in report["missing_sources"]}
    assert fixes["austen"] == "fabula data fetch austen" and fixes["tang"] == "fabula data fetch poetry"


def test_bad_policy_and_names_are_refused_by_name(tmp_path: Path, fabula_home: Path) -> None:
    with pytest.raises(InvalidParam, match="min_overlap_tokens"):
        OriginalityPolicy(min_overlap_tokens=60)
    with pytest.raises(InvalidParam, match="'austen'"):
        register(fabula_home, "austen", tmp_path)
    with pytest.raises(InvalidParam, match="folder"):
        register(fabula_home, "empty", tmp_path / "nowhere")


def run(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_cli_contract_and_exit_code(corpus_home: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.txt"
    copy.write_text(CORPUS, encoding="utf-8")
    result = run("originality", str(copy), "--json")
    assert result.exit_code == 3  # type: ignore[attr-defined]
    data = json.loads(result.stdout)  # type: ignore[attr-defined]
    assert data["flagged"] is True and isinstance(data["longest_span_tokens"], int)
    assert isinstance(data["novel_ngram_share"], dict) and isinstance(data["score"], float)
    fresh = tmp_path / "fresh.txt"
    fresh.write_text(FRESH, encoding="utf-8")
    assert run("originality", str(fresh), "--json").exit_code == 0  # type: ignore[attr-defined]
    missing = run("originality", str(tmp_path / "nope.txt"))
    assert missing.exit_code == 2 and "neither a file nor a work id" in missing.stderr  # type: ignore[attr-defined]


def test_every_saved_work_carries_its_report_and_a_setting_can_block_saving(
    corpus_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    close_all()
    scripted([CORPUS])
    try:
        saved = run("write", "story", "a harbour", "--engine", "fake", "--json")
        assert saved.exit_code == 0  # type: ignore[attr-defined]
        prov = json.loads(saved.stdout)["provenance"]  # type: ignore[attr-defined]
        assert prov["originality"]["flagged"] is True and prov["content_sha256"]
        work_id = json.loads(saved.stdout)["id"]  # type: ignore[attr-defined]
        assert run("originality", work_id[:10], "--json").exit_code == 3  # type: ignore[attr-defined]

        from fabula.settings import get_settings

        monkeypatch.setenv("FABULA_ORIGINALITY_BLOCK", "export")
        get_settings.cache_clear()
        refused = run("works", "export", work_id, "-o", str(corpus_home / "out.md"))
        assert refused.exit_code == 3 and "originality_block=export" in refused.stderr  # type: ignore[attr-defined]
        assert not (corpus_home / "out.md").exists()

        monkeypatch.setenv("FABULA_ORIGINALITY_BLOCK", "save")
        get_settings.cache_clear()
        scripted([CORPUS])  # the engine under the new settings
        blocked = run("write", "story", "a harbour", "--engine", "fake", "--json")
        assert blocked.exit_code == 3 and "not saved" in blocked.stderr  # type: ignore[attr-defined]
        listed = json.loads(run("works", "list", "--json").stdout)  # type: ignore[attr-defined]
        assert len(listed) == 1  # only the first, unblocked save
    finally:
        close_all()


def test_a_folder_used_for_training_becomes_a_reference_source(tmp_path: Path, fabula_home: Path) -> None:
    from fabula.train.config import DataConfig
    from fabula.train.prepare import prepare

    folder = tmp_path / "My Letters"
    folder.mkdir()
    for i in range(40):
        (folder / f"letter{i}.txt").write_text(f"Dear friend number {i}, the harvest was late this year.\n\n{CORPUS}")
    prepare(DataConfig(corpus=str(folder), tokenizer="char", min_count=1, val_fraction=0.3), fabula_home)
    shards, _ = open_shards(fabula_home)
    assert [(s.name, s.meta["kind"]) for s in shards] == [("train-my-letters", "training")]
    assert check_text(CORPUS, fabula_home)["flagged"] is True
