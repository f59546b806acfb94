"""Write a Melody as MusicXML through music21, and read the file back before it is kept.

MusicXML is what notation programs (MuseScore, Finale, Sibelius, Dorico) open, so a song's score
can be edited where musicians work. music21 writes it: it splits notes across bar lines with ties
and lays out measures as the format requires, which a hand-written writer would have to
re-implement. Each note carries its syllable as a lyric with MusicXML's `syllabic` value (single,
begin, middle, end), so a notation program draws the hyphens between syllables of one word.

The written file is parsed again with music21 and its sounding notes (a tied continuation is not a
new note) compared with the melody, pitch and lyric, before it replaces anything; a mismatch is an
ExportError and nothing is written.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fabula.errors import ExportError
from fabula.files import replaced
from fabula.music.melody import Melody

LOG = logging.getLogger(__name__)


def _music21() -> Any:
    try:
        import music21
    except ImportError:  # pragma: no cover - a dependency of fabula; missing only in a broken install
        raise ExportError(
            "MusicXML export needs music21, which is not installed",
            hint="reinstall fabula (music21 is one of its dependencies), or export the melody as .mid or .abc",
        ) from None
    return music21


def _syllabic(word_start: bool, word_end: bool) -> str:
    if word_start and word_end:
        return "single"
    return "begin" if word_start else "end" if word_end else "middle"


def _key_name(key: str) -> str:
    return key[0] + key[1:].replace("b", "-")  # music21 spells B flat "B-"


def score(melody: Melody, title: str = "fabula song") -> Any:
    """The melody as a music21 Score: one part, its meter, key and tempo, a lyric per note."""
    m21 = _music21()
    part = m21.stream.Part(id="melody")
    part.partName = "Voice"
    part.append(m21.meter.TimeSignature(melody.meter))
    part.append(m21.key.Key(_key_name(melody.key)))
    part.append(m21.tempo.MetronomeMark(number=melody.tempo, referent=m21.note.Note(type="quarter")))
    cursor = 0
    for note in melody.notes:
        if note.start > cursor:
            part.append(m21.note.Rest(quarterLength=(note.start - cursor) / melody.unit))
        sounding = m21.note.Note(midi=note.pitch, quarterLength=note.length / melody.unit)
        syllable = note.syllable
        if not note.held:  # a melisma's further notes carry no lyric of their own
            sounding.lyrics.append(
                m21.note.Lyric(text=syllable.text, syllabic=_syllabic(syllable.word_start, syllable.word_end))
            )
        part.append(sounding)
        cursor = note.start + note.length
    bar = melody.slots_per_bar
    if cursor % bar:
        part.append(m21.note.Rest(quarterLength=(bar - cursor % bar) / melody.unit))  # fill the last bar
    piece = m21.stream.Score()
    piece.metadata = m21.metadata.Metadata()
    piece.metadata.title = title
    piece.metadata.composer = "fabula"
    piece.insert(0, part)
    return piece


def read_musicxml(path: Path) -> dict[str, Any]:
    """The sounding notes of a MusicXML file as music21 reads them: (pitch, lyric) in order, a tied
    note's continuation folded into its start, with the meter and key."""
    m21 = _music21()
    parsed = m21.converter.parse(str(path), format="musicxml")
    notes: list[tuple[int, str]] = []
    for element in parsed.recurse().notes:
        if element.tie is not None and element.tie.type in ("stop", "continue"):
            continue
        notes.append((int(element.pitch.midi), element.lyric or ""))
    signatures = list(parsed.recurse().getElementsByClass("TimeSignature"))
    keys = list(parsed.recurse().getElementsByClass("KeySignature"))
    return {
        "notes": notes,
        "meter": signatures[0].ratioString if signatures else None,
        "sharps": keys[0].sharps if keys else None,
        "title": parsed.metadata.bestTitle if parsed.metadata else None,
    }


def write_musicxml(melody: Melody, path: Path, title: str = "fabula song") -> Path:
    """Write the score, read it back, and keep it only if every note and syllable came back."""
    piece = score(melody, title)
    with replaced(path) as tmp:
        piece.write("musicxml", fp=str(tmp))
        back = read_musicxml(tmp)
        expected = [(note.pitch, note.syllable.text) for note in melody.notes]
        if back["notes"] != expected:
            first = next(
                (i for i, (a, b) in enumerate(zip(back["notes"], expected, strict=False)) if a != b),
                min(len(back["notes"]), len(expected)),
            )
            raise ExportError(
                f"the MusicXML written for {path.name} reads back differently from the melody "
                f"(note {first + 1}: {len(back['notes'])} notes read, {len(expected)} written); nothing was written",
                hint="export the melody as .mid or .abc instead, and report this song",
            )
    LOG.info(
        "wrote %s: %d notes in %s, %s major, checked by reading it back",
        path,
        len(melody.notes),
        melody.meter,
        melody.key,
    )
    return path
