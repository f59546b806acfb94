"""Write a Melody as MIDI (lyrics as lyric meta events, one per note) and as ABC notation, and
read a MIDI file back for checking. Files are written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fabula.files import replaced
from fabula.music.melody import KEYS, Melody

TICKS_PER_BEAT = 480
# Lyric and name events are written as UTF-8 (mido's default, Latin-1, cannot hold ’ or 中);
# typographic punctuation becomes ASCII so every reader shows it.
ASCII_PUNCTUATION = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "—": "-", "–": "-", "…": "..."})


def _text(value: str) -> str:
    return value.translate(ASCII_PUNCTUATION)


def write_midi(melody: Melody, path: Path, title: str = "fabula song") -> Path:
    import mido

    song = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT, charset="utf-8")
    meta = mido.MidiTrack()
    numerator, denominator = (int(x) for x in melody.meter.split("/"))
    slot = TICKS_PER_BEAT // melody.unit
    meta.append(mido.MetaMessage("track_name", name=_text(title[:60]), time=0))
    meta.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(melody.tempo), time=0))
    meta.append(mido.MetaMessage("time_signature", numerator=numerator, denominator=denominator, time=0))
    meta.append(mido.MetaMessage("key_signature", key=melody.key, time=0))
    voice = mido.MidiTrack()
    voice.append(mido.MetaMessage("track_name", name="melody", time=0))
    voice.append(mido.Message("program_change", program=0, channel=0, time=0))
    now = 0
    for note in melody.notes:
        start = note.start * slot
        if not note.held:  # a melisma's further notes sing on: no new lyric event
            voice.append(mido.MetaMessage("lyrics", text=_text(note.syllable.lyric), time=start - now))
        wait = start - now if note.held else 0
        velocity = 96 if note.syllable.stressed else 72
        voice.append(mido.Message("note_on", note=note.pitch, velocity=velocity, channel=0, time=wait))
        voice.append(mido.Message("note_off", note=note.pitch, velocity=0, channel=0, time=note.length * slot))
        now = start + note.length * slot
    song.tracks.extend([meta, voice])
    return _atomic(path, lambda tmp: song.save(str(tmp)))


def abc_text(melody: Melody, title: str = "fabula song") -> str:
    """ABC with one grid slot as the unit length (L:1/8 for a composed tune): one line of music per
    lyric line, its syllables on a `w:` line below."""
    bar = melody.slots_per_bar
    lines = ["X:1", f"T:{title}", f"M:{melody.meter}", f"L:1/{4 * melody.unit}", f"Q:1/4={melody.tempo}"]
    lines.append(f"K:{melody.key}")
    music: list[str] = []
    words = ""
    section = None
    cursor = 0
    notes = melody.notes
    for i, note in enumerate(notes):
        if note.section != section:
            section = note.section
            lines.append(f"% {section}")
        if note.start > cursor:
            _rest(music, cursor, note.start, bar)
        if note.start % bar == 0 and music and music[-1] != "|":
            music.append("|")
        written = _abc_pitch(note.pitch, melody.key) + (str(note.length) if note.length > 1 else "")
        slur_opens = not note.held and i + 1 < len(notes) and notes[i + 1].held  # a melisma is slurred
        slur_closes = note.held and (i + 1 == len(notes) or not notes[i + 1].held)
        music.append(("(" if slur_opens else "") + written + (")" if slur_closes else ""))
        if note.held:  # ABC's "_": the syllable before is held on over this note
            words = words.rstrip(" ") + ("_" if words.endswith("-") else "_ ")
        else:
            words += note.syllable.lyric + ("" if note.syllable.lyric.endswith("-") else " ")
        cursor = note.start + note.length
        if cursor % bar == 0:
            music.append("|")
        if note.line_end:
            lines += [" ".join(music), "w: " + words.strip()]
            music, words = [], ""
    return "\n".join(lines) + "\n"


def _rest(music: list[str], start: int, end: int, bar_slots: int) -> None:
    while start < end:
        stop = min(end, (start // bar_slots + 1) * bar_slots)
        length = stop - start
        music.append("z" + (str(length) if length > 1 else ""))
        if stop % bar_slots == 0 and stop < end:
            music.append("|")
        start = stop


NOTE_NAMES = ("C", "^C", "D", "^D", "E", "F", "^F", "G", "^G", "A", "^A", "B")
FLAT_NAMES = ("C", "_D", "D", "_E", "E", "F", "_G", "G", "_A", "A", "_B", "B")


def _abc_pitch(midi: int, key: str) -> str:
    names = FLAT_NAMES if key in ("F", "Bb", "Eb", "Ab") else NOTE_NAMES
    name = names[midi % 12]
    scale = {(KEYS[key] + step) % 12 for step in (0, 2, 4, 5, 7, 9, 11)}
    if midi % 12 in scale:
        name = name.lstrip("^_")  # the key signature supplies the accidental
    octave = midi // 12 - 5  # MIDI 60 (C4) is ABC "C"
    if octave >= 1:
        return name[:-1] + name[-1].lower() + "'" * (octave - 1)
    return name + "," * (-octave)


def write_abc(melody: Melody, path: Path, title: str = "fabula song") -> Path:
    text = abc_text(melody, title)
    return _atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _atomic(path: Path, write: Any) -> Path:
    with replaced(path) as tmp:
        write(tmp)
    return path


def read_midi(path: Path) -> dict[str, Any]:
    """Notes (onset in eighths, pitch) and lyric events of a MIDI file, in order, for checking."""
    import mido

    song = mido.MidiFile(str(path), charset="utf-8")
    per_eighth = song.ticks_per_beat // 2
    notes: list[tuple[int, int]] = []
    lyrics: list[str] = []
    meter = "4/4"
    for track in song.tracks:
        tick = 0
        for message in track:
            tick += message.time
            if message.type == "time_signature":
                meter = f"{message.numerator}/{message.denominator}"
            elif message.type == "lyrics":
                lyrics.append(message.text)
            elif message.type == "note_on" and message.velocity > 0:
                notes.append((tick // per_eighth, message.note))
    return {"notes": notes, "lyrics": lyrics, "meter": meter}
