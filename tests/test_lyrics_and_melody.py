"""Lyrics structure, assembly and checks; melodies composed for them, exported and read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fabula.errors import FormError
from fabula.music.check import check_melody
from fabula.music.export import abc_text, write_abc, write_midi
from fabula.music.melody import compose
from fabula.music.syllables import line_syllables
from fabula.verse.lyrics import assemble, check_lyrics, distinct_sections, generation_form, song_sections

SONG_PARTS = (
    "The road is long and cold tonight\nI carry all I own in one\nThe window of my home is bright\n"
    "I leave before the rising sun\n"
    "So long so long\nI sing this song\nThe water goes\nThe river flows\n"
    "I walk along the empty shore\nAnd count the lights I leave behind\nI will not see them any more\n"
    "But I will keep them in my mind\n"
    "And if the morning comes this way\nI will be gone but you will stay"
)


def test_structure_parsing_and_clear_errors() -> None:
    sections = song_sections("VCVCBC")
    assert [s.label for s in sections] == ["Verse 1", "Chorus", "Verse 2", "Chorus", "Bridge", "Chorus"]
    assert [s.label for s in distinct_sections(sections)] == ["Verse 1", "Chorus", "Verse 2", "Bridge"]
    with pytest.raises(FormError, match="unknown sections X"):
        song_sections("VXC")
    with pytest.raises(FormError, match="is not LINESxSYLLABLES:SCHEME"):
        song_sections("VC", {"V": "four lines"})
    with pytest.raises(FormError, match="one rhyme letter per line"):
        song_sections("VC", {"V": "4x8:AB"})


def test_generation_form_gives_each_section_its_own_rhymes() -> None:
    form = generation_form(song_sections("VCVCBC"))
    assert len(form.lines) == 4 + 4 + 4 + 2
    assert form.scheme == "ABAB" + "CCDD" + "EFEF" + "GG"
    assert [spec.syllables for spec in form.lines[:5]] == [8, 8, 8, 8, 6]


def test_assembled_song_repeats_the_chorus_and_passes_its_check() -> None:
    sections = song_sections("VCVCBC", {"C": "4x4:AABB"})
    song = assemble(SONG_PARTS, sections)
    assert song.count("[Chorus]") == 3 and song.count("So long so long") == 3
    report = check_lyrics(song, sections)
    assert report["ok"], report["violations"]
    broken = song.replace("The river flows", "The river goes on", 1)
    assert broken != song
    bad = check_lyrics(broken, sections)
    assert any("not repeated verbatim" in v for v in bad["violations"])
    assert any("Chorus line 4: 5 syllables, needs 4" in v for v in bad["violations"])


def test_melody_one_note_per_syllable_stress_on_strong_beats(tmp_path: Path) -> None:
    import music21

    sections = song_sections("VCVCBC", {"C": "4x4:AABB"})
    song = assemble(SONG_PARTS, sections)
    tune = compose(song, key="G", tempo=100, meter="4/4", seed=2)
    sung = [line for line in song.splitlines() if line and not line.startswith("[")]
    syllable_count = sum(len(line_syllables(line)) for line in sung)
    assert len(tune.notes) == syllable_count
    assert tune.strong_beat_stress() >= 0.9
    chorus_notes = [n for n in tune.notes if n.section == "Chorus"]
    per = len(chorus_notes) // 3
    first, second, third = (chorus_notes[i * per : (i + 1) * per] for i in range(3))
    assert (
        [(n.pitch, n.length) for n in first]
        == [(n.pitch, n.length) for n in second]
        == [(n.pitch, n.length) for n in third]
    )
    midi = write_midi(tune, tmp_path / "song.mid")
    parsed = [n for n in music21.converter.parse(str(midi)).recurse().notes]
    assert len(parsed) == syllable_count
    assert sum(1 for n in parsed if n.lyric) == syllable_count
    report = check_melody(midi, song)
    assert report["ok"], report["violations"]
    assert report["strong_beat_stress"] >= 0.9


def test_abc_export_is_parsed_by_music21(tmp_path: Path) -> None:
    import music21

    tune = compose(assemble(SONG_PARTS, song_sections("VCVCBC", {"C": "4x4:AABB"})), key="D", meter="3/4", seed=1)
    text = abc_text(tune, "leaving")
    assert text.startswith("X:1\nT:leaving\nM:3/4\nL:1/8\nQ:1/4=96\nK:D\n")
    assert "w: The road is long and cold to-night" in text
    path = write_abc(tune, tmp_path / "song.abc", "leaving")
    score = music21.converter.parse(str(path), format="abc")
    assert len([n for n in score.recurse().notes]) == len(tune.notes)


def test_bad_melody_settings_are_named() -> None:
    with pytest.raises(FormError, match="key='H' is not supported"):
        compose("la la la", key="H")
    with pytest.raises(FormError, match="tempo=500"):
        compose("la la la", tempo=500)


def test_write_lyrics_with_melody_end_to_end(tmp_path: Path, fabula_home: Path) -> None:
    from click.testing import CliRunner

    from fabula.backends import close_all
    from fabula.cli.main import cli

    close_all()
    midi, abc = tmp_path / "song.mid", tmp_path / "song.abc"
    args = ["write", "lyrics", "leaving home", "--seed", "5", "--melody", str(midi), "--abc", str(abc), "--json"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    close_all()
    data = json.loads(result.stdout)
    assert result.exit_code == 0, result.stderr
    assert data["candidates"][0]["checks"]["ok"]
    assert data["text"].count("[Chorus]") == 3
    assert data["melody"]["strong_beat_stress"] >= 0.9 and midi.is_file() and abc.is_file()
    report = check_melody(midi, data["text"])
    assert report["ok"], report["violations"]
    wrong = CliRunner().invoke(cli, ["write", "poem", "x", "--engine", "fake", "--melody", str(midi)])
    assert wrong.exit_code == 2 and "only the lyrics form has a melody" in wrong.stderr


def test_typographic_and_non_latin_lyrics_survive_midi(tmp_path: Path) -> None:
    from fabula.music.export import read_midi

    tune = compose("[Verse 1]\nI don’t know why the “river” sings\nA café at night — so long", seed=3)
    midi = write_midi(tune, tmp_path / "quotes.mid", title="don’t “go”")
    lyrics = read_midi(midi)["lyrics"]
    assert "don't" in "".join(lyrics) and len(lyrics) == len(tune.notes)
    assert "café" in "".join(t.rstrip("-") for t in lyrics)


@pytest.mark.skipif(__import__("shutil").which("fluidsynth") is None, reason="no fluidsynth here (.ci/run installs it)")
def test_melody_renders_to_wav_of_the_right_length(tmp_path: Path) -> None:
    import wave

    from fabula.music.audio import render_wav

    tune = compose(assemble(SONG_PARTS, song_sections("VCVCBC", {"C": "4x4:AABB"})), tempo=120, seed=4)
    wav = render_wav(write_midi(tune, tmp_path / "song.mid"), tmp_path / "song.wav")
    with wave.open(str(wav)) as audio:
        seconds = audio.getnframes() / audio.getframerate()
    expected = tune.bars * 4 * 60 / tune.tempo
    assert expected - 1 < seconds < expected + 4  # the synthesizer adds a release tail


def test_missing_synthesizer_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from fabula.errors import ConfigError
    from fabula.music import audio

    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    with pytest.raises(ConfigError, match="apt-get install fluidsynth"):
        audio.render_wav(tmp_path / "x.mid", tmp_path / "x.wav")


def test_chinese_syllables_carry_tones_and_line_accents() -> None:
    from fabula.music.syllables import line_syllables

    sylls = line_syllables("春风又绿江南岸")
    assert [s.text for s in sylls] == list("春风又绿江南岸")
    assert [s.tone for s in sylls] == [1, 1, 4, 4, 1, 2, 4]
    assert [s.stressed for s in sylls] == [False, True, False, True, False, True, True]  # 2+2+3


def test_musicxml_score_reads_back_in_music21_note_for_note(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    import music21

    from fabula.music.musicxml import write_musicxml

    tune = compose(assemble(SONG_PARTS, song_sections("VCVCBC", {"C": "4x4:AABB"})), key="Bb", meter="3/4", seed=6)
    path = write_musicxml(tune, tmp_path / "song.musicxml", "leaving")
    score = music21.converter.parse(str(path), format="musicxml")
    sounding = [n for n in score.recurse().notes if n.tie is None or n.tie.type == "start"]
    assert [n.pitch.midi for n in sounding] == [n.pitch for n in tune.notes]
    assert [n.lyric for n in sounding] == [n.syllable.text for n in tune.notes]
    assert score.metadata.bestTitle == "leaving"
    assert score.recurse().getElementsByClass("TimeSignature")[0].ratioString == "3/4"
    assert score.recurse().getElementsByClass("KeySignature")[0].sharps == -2  # B flat major
    # every bar is full: 3 beats in 3/4
    assert all(m.duration.quarterLength == 3 for m in score.parts[0].getElementsByClass("Measure"))
    # "to-night": MusicXML's own syllabic marks, so a notation program draws the hyphen
    root = ET.parse(path).getroot()
    lyrics = [(el.findtext("syllabic"), el.findtext("text")) for el in root.iter("lyric")]
    night = lyrics.index(("end", "night"))
    assert lyrics[night - 1] == ("begin", "to")


def test_a_saved_song_exports_its_melody_later_in_every_format(tmp_path: Path, fabula_home: Path) -> None:
    from click.testing import CliRunner

    from fabula.backends import close_all
    from fabula.cli.main import cli
    from fabula.music.export import read_midi
    from fabula.music.musicxml import read_musicxml

    close_all()
    runner = CliRunner()
    written = tmp_path / "now.musicxml"
    args = [
        "write",
        "lyrics",
        "leaving home",
        "--seed",
        "5",
        "--max-tokens",
        "200",
        "--musicxml",
        str(written),
        "--json",
    ]
    result = runner.invoke(cli, args, catch_exceptions=False)
    close_all()
    assert result.exit_code == 0, result.stderr
    work = json.loads(result.stdout)
    later = {}
    for suffix in ("mid", "abc", "musicxml"):
        out = tmp_path / f"later.{suffix}"
        exported = runner.invoke(cli, ["works", "export", work["id"], "-o", str(out)])
        assert exported.exit_code == 0, exported.stderr
        later[suffix] = out
    notes = read_musicxml(later["musicxml"])["notes"]
    assert notes == read_musicxml(written)["notes"]  # the same notes and words, composed again from the seed
    assert [pitch for _, pitch in read_midi(later["mid"])["notes"]] == [pitch for pitch, _ in notes]
    assert later["abc"].read_text(encoding="utf-8").startswith("X:1\n")
    wrong = runner.invoke(cli, ["works", "export", work["id"], "-o", str(tmp_path / "x.mxl")])
    assert wrong.exit_code == 2 and "musicxml" in wrong.stderr

    from fastapi.testclient import TestClient

    from fabula.api.app import create_app
    from fabula.settings import Settings

    with TestClient(create_app(Settings(home=fabula_home, engine="fake")), base_url="http://127.0.0.1") as client:
        midi = client.get(f"/api/works/{work['id']}/export?format=mid")
        assert midi.status_code == 200 and midi.headers["content-type"] == "audio/midi"
        assert midi.content == later["mid"].read_bytes() and midi.content.startswith(b"MThd")
        score = client.get(f"/api/works/{work['id']}/export?format=musicxml")
        assert score.headers["content-disposition"].endswith('.musicxml"') and b"<score-partwise" in score.content
