"""Words written to a given melody: its phrases read, one syllable per note, stress on strong beats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from fabula.backends import get_backend
from fabula.cli.main import cli
from fabula.errors import FormError
from fabula.music.export import abc_text, write_midi
from fabula.music.setting import check_setting, layout, sung_melody, tone_rule
from fabula.music.tune import read_abc, read_tune
from fabula.pipeline import write
from fabula.sampling import SamplingParams
from fabula.settings import get_settings

TUNES = Path(__file__).parent / "fixtures" / "tunes"
TWINKLE = TUNES / "twinkle.abc"
WORDS = """Twinkle, twinkle, little star,
How I wonder what you are,
Up above the world so high,
Where the lonely eagles fly,
Twinkle, twinkle, little star,
How I wonder what you are."""


def test_phrases_strong_beats_and_the_chorus_are_read_off_the_tune() -> None:
    tune = read_tune(TWINKLE)
    assert tune.meter == "4/4" and [len(p.notes) for p in tune.phrases] == [7] * 6
    assert [p.repeat_of for p in tune.phrases] == [None, None, None, None, 0, 1]  # the chorus comes back
    assert [n.strong for n in tune.phrases[0].notes] == [True, False] * 3 + [True]
    assert tune.phrases[2].rhyme == tune.phrases[3].rhyme != tune.phrases[0].rhyme  # high / sky
    clair = read_tune(TUNES / "au-clair.abc")  # "au clair de la lune, / mon ami Pierrot"
    assert [len(p.notes) for p in clair.phrases][:2] == [6, 5]
    waltz = read_tune(TUNES / "harbour-waltz.abc")
    assert all(n.strong == (n.onset % 3 == 0) for n in waltz.notes)  # 3/4: one strong beat a bar
    boat = read_tune(TUNES / "row-your-boat.abc")
    assert boat.meter == "6/8" and {n.onset % 3 for n in boat.notes if n.strong} == {0, 1.5}


def test_a_given_scheme_and_bad_files_are_named(tmp_path: Path) -> None:
    tune = read_tune(TWINKLE, scheme="AB")
    assert [p.rhyme for p in tune.phrases[:4]] == ["A0", "B0", "A1", "B1"]
    with pytest.raises(FormError, match="scheme 'A1'"):
        read_tune(TWINKLE, scheme="A1")
    with pytest.raises(FormError, match="a MIDI \\(.mid\\) or ABC \\(.abc\\) file is needed"):
        read_tune(tmp_path / "song.wav")
    with pytest.raises(FormError, match="does not exist"):
        read_tune(tmp_path / "gone.mid")
    broken = tmp_path / "broken.mid"
    broken.write_bytes(b"MThd not really")
    with pytest.raises(FormError, match="could not be read"):
        read_tune(broken)
    single = tmp_path / "one.abc"
    single.write_text("X:1\nM:4/4\nL:1/4\nK:C\nC4 |\n", encoding="utf-8")
    with pytest.raises(FormError, match="at least 2"):
        read_tune(single)


def test_real_words_fit_and_broken_ones_are_named() -> None:
    tune = read_tune(TWINKLE)
    report = check_setting(WORDS, tune)
    assert report["ok"], report["violations"]
    assert report["syllables_per_note"] == 1.0
    assert report["strong_beat_stress"] == round(22 / 24, 4)  # "are" is sung on a strong beat, twice
    # the folk words: "like a diamond in the sky" sings "in" on beat 3 as well
    folk = check_setting(WORDS.replace("Where the lonely eagles fly", "Like a diamond in the sky"), tune)
    assert folk["violations"] == ["only 88% of strong-beat notes carry a stressed syllable (target 90%)"]
    changed = WORDS.replace(
        "Twinkle, twinkle, little star,\nHow I wonder what you are.",
        "Stars are shining, far and wide,\nHow I wonder what you are.",
    )
    violations = check_setting(changed, tune)["violations"]
    assert any("line 5 repeats the tune of line 1, so it sings its words" in v for v in violations)
    violations = check_setting(WORDS.replace("little star", "star"), tune)["violations"]
    assert any(v.startswith("line 1: 5 syllables for 7 notes") for v in violations)
    violations = check_setting(WORDS.replace("so high", "so low"), tune)["violations"]
    assert "lines [3, 4] end their phrases together and should rhyme" in violations


def test_layout_sings_the_chorus_again_and_the_export_carries_every_syllable(tmp_path: Path) -> None:
    tune = read_tune(TWINKLE)
    own = "\n".join(WORDS.splitlines()[:4])
    assert layout(own, tune).splitlines() == own.splitlines() + own.splitlines()[:2]
    import music21

    midi = write_midi(sung_melody(tune, WORDS), tmp_path / "twinkle.mid")
    notes = list(music21.converter.parse(str(midi)).recurse().notes)
    assert len(notes) == 42 and [n.lyric for n in notes[:7]] == ["Twin", "kle", "twin", "kle", "lit", "tle", "star"]
    assert [n.pitch.midi for n in notes[:3]] == [60, 60, 67]


def test_tones_follow_the_pitch() -> None:
    phrase = read_tune(TWINKLE).phrases[0]  # C C G G A A G
    rule = tone_rule(phrase)
    assert rule[0] is None and rule[1] is None  # the first note is free; a repeated pitch too
    assert rule[2] == {1, 2} and rule[6] == {3, 4}  # up to G: level or rising; down to G: low or falling


def test_a_pickup_bar_keeps_the_bar_lines_after_it_where_they_are() -> None:
    # "E | A2 A A B c | B2 A F3 |": the upbeat E is a bar of its own, so F3 ends the second bar
    tune = read_tune(TUNES / "sea-shanty.abc")
    assert [len(p.notes) for p in tune.phrases] == [9, 6, 9, 7]  # counted from the first beat: 15, 2, 5, 9


def test_a_slur_is_a_melisma_sung_on_one_syllable_and_kept_in_every_export(tmp_path: Path) -> None:
    tune = read_tune(TUNES / "amazing-grace.abc")  # "A-ma-zing grace": "zing" over the slurred E/C/
    first = tune.phrases[0]
    assert [i for i, n in enumerate(first.notes) if n.held] == [3, 12] and len(first.sung) == 14
    assert tone_rule(first)[3] == {1, 2}  # "grace" on E: the step into it is from the held C, rising
    words = (
        "Amazing grace, how sweet the sound that saved a wretch like me\n"
        "I once was lost but now am found\nwas blind but now I see at last"
    )
    assert check_setting(words, tune)["syllables_per_note"] == 1.0
    report = check_setting(words.replace("sweet", "sweet sweet"), tune)
    assert "line 1: 15 syllables for 14 notes (2 more held in melismas)" in report["violations"]
    melody = sung_melody(tune, words)
    held = [n for n in melody.notes if n.held]
    assert len(held) == sum(len(p.notes) - len(p.sung) for p in tune.phrases) > 0
    pairs = zip(melody.notes, melody.notes[1:], strict=False)
    assert all(n.syllable == before.syllable for before, n in pairs if n.held)
    abc = abc_text(melody)
    assert "(E" in abc and "zing_ grace" in abc
    assert read_abc(abc).phrases == tune.phrases  # the slurs come back: the same tune, the same melismas
    import music21

    notes = list(music21.converter.parse(str(write_midi(melody, tmp_path / "grace.mid"))).stripTies().recurse().notes)
    assert len(notes) == len(melody.notes)  # every note sounds, a lyric only where a syllable starts
    assert [n.lyric for n in notes[:4]] == ["A", "ma", "zing", None]


def test_the_default_model_writes_english_words_to_the_tune(tmp_path: Path) -> None:
    backend = get_backend("llamacpp", "", get_settings())
    work = write(backend, "lyrics", "the stars at night", {"tune": str(TWINKLE)}, SamplingParams(seed=3, n=1))
    lines = work.text.splitlines()
    assert len(lines) == 6 and lines[4:] == lines[:2], lines
    report = work.chosen.checks
    assert report is not None and report["ok"], report
    assert report["syllables_per_note"] == 1.0 and report["strong_beat_stress"] == 1.0


def test_the_tang_model_writes_chinese_words_whose_tones_follow_the_tune() -> None:
    backend = get_backend("gpt", "tang-poems", get_settings())
    inputs = {"tune": str(TWINKLE), "language": "zh"}
    work = write(backend, "lyrics", "星夜", inputs, SamplingParams(seed=3, n=1, temperature=0.8))
    lines = work.text.splitlines()
    assert [len(line.rstrip("，。")) for line in lines] == [7] * 6 and lines[-1].endswith("。")
    report = work.chosen.checks
    assert report is not None and report["ok"] and report["tone_pitch_agreement"] == 1.0, report


def test_write_from_melody_on_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "song.mid"
    args = ["write", "lyrics", "the stars", "--from-melody", str(TWINKLE), "--seed", "3", "--json", "--no-stream"]
    result = CliRunner().invoke(cli, [*args, "--melody", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert len(data["text"].splitlines()) == 6
    assert [len(p["notes"]) for p in data["melody"]["phrases"]] == [7] * 6
    assert data["melody"]["files"] == [str(out)] and out.is_file()
    assert data["provenance"]["prompt"]["inputs"]["tune_abc"] == TWINKLE.read_text(encoding="utf-8")
    later = tmp_path / "later.mid"  # the tune is kept with the work: it exports again without the file
    result = CliRunner().invoke(cli, ["works", "export", data["id"], "-o", str(later)])
    assert result.exit_code == 0, result.output
    assert later.read_bytes() == out.read_bytes()
    result = CliRunner().invoke(cli, ["write", "poem", "x", "--from-melody", str(TWINKLE)])
    assert result.exit_code == 2 and "only lyrics are written to a melody" in result.output


def test_a_midi_tune_is_kept_with_the_work_not_its_path(tmp_path: Path) -> None:
    import base64

    import music21

    midi = tmp_path / "twinkle.mid"
    music21.converter.parse(TWINKLE.read_text(encoding="utf-8"), format="abc").write("midi", fp=str(midi))
    args = ["write", "lyrics", "the stars", "--from-melody", str(midi), "--seed", "3", "--json", "--no-stream"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    inputs = data["provenance"]["prompt"]["inputs"]
    assert base64.b64decode(inputs["tune_midi"]) == midi.read_bytes() and not inputs.get("tune")
    assert [len(p["notes"]) for p in data["melody"]["phrases"]] == [7] * 6
    midi.unlink()  # gone: the work still has its tune
    result = CliRunner().invoke(cli, ["works", "export", data["id"], "-o", str(tmp_path / "again.mid")])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "does not exist" in result.output


def test_check_lyrics_against_a_melody(tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    words.write_text(WORDS, encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", "lyrics", str(words), "--melody", str(TWINKLE), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["syllables_per_note"] == 1.0
    words.write_text(WORDS.replace("little star", "star"), encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", "lyrics", str(words), "--melody", str(TWINKLE), "--json"])
    assert result.exit_code == 1 and "5 syllables for 7 notes" in result.stdout


def test_a_client_over_http_cannot_make_the_server_read_a_file(fabula_home: Path) -> None:
    from fastapi.testclient import TestClient

    from fabula.api.app import create_app
    from fabula.backends import close_all
    from fabula.settings import Settings
    from tests.conftest import LOCAL

    close_all()
    body = {"form": "lyrics", "prompt": "x", "inputs": {"tune": str(TWINKLE)}}
    with TestClient(create_app(Settings(home=fabula_home, engine="fake")), base_url=LOCAL) as client:
        reply = client.post("/api/works", json=body)
        assert reply.status_code == 400, reply.text
        assert "read on the command line only" in reply.text
        fabula = {"form": "lyrics", "inputs": {"tune": str(TWINKLE)}}
        reply = client.post(
            "/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}], "fabula": fabula}
        )
        assert reply.status_code == 400 and "read on the command line only" in reply.text, reply.text
        assert client.get("/api/works").json()["works"] == []
        # the tune as ABC text is read from the request, and kept with the work
        body["inputs"] = {"tune_abc": TWINKLE.read_text(encoding="utf-8")}
        reply = client.post("/api/works", json=body)
        assert reply.status_code in (200, 201), reply.text
        checks = reply.json()["candidates"][0]["checks"]
        assert checks["phrases"] == 6 and len(checks["lines"]) <= 6  # the fake engine's words, judged against it
        for bad, named in [("not base64!", "give the bytes of a .mid file in base64"), ("QUJD", "begins MThd")]:
            body["inputs"] = {"tune_midi": bad}
            reply = client.post("/api/works", json=body)
            assert reply.status_code == 400 and "tune_midi=" in reply.text and named in reply.text, reply.text
    close_all()
