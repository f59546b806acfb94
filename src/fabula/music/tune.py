"""A melody someone else wrote, read for setting words to it: notes, strong beats, phrases, repeats.

music21 reads MIDI and ABC alike; the first part is the tune (a chord gives its top note, tied
notes are one note). Each note knows whether it falls on a strong beat (music21's beat strength
of 1, and 4/4's beat 3 and 6/8's second dotted quarter), so a stressed syllable can be put there.

Phrases end where a singer breathes: before a rest, after a long note (at least twice the tune's
median note and at least a quarter) that ends its bar, and at the end. A phrase longer than `MAX_PHRASE` notes is
split after its longest note in the middle half. Two or more phrases in a row whose notes
(intervals and rhythm) are those of an earlier run are a chorus: they are sung to its words.

A slur marks a melisma: the notes under it carry one syllable, sung on the first (`held` marks
the others), so a phrase has as many syllables as notes that are not held. A slur across a phrase
end ends with the phrase.

Rhymes fall on phrase ends: by a given scheme (one letter per distinct phrase, cycled, e.g. AABB),
or, by default, distinct phrases rhyme in pairs (AABB...), a last odd one left unrhymed.
"""

from __future__ import annotations

import base64
import binascii
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

from fabula.errors import FormError, InvalidParam

MAX_PHRASE = 16
MAX_BYTES = 200_000
MIN_NOTES = 2
SUFFIXES = (".mid", ".midi", ".abc")


@dataclass(frozen=True)
class TuneNote:
    pitch: int  # MIDI note number
    onset: Fraction  # quarter notes from the start
    length: Fraction  # quarter notes
    strong: bool  # on a strong beat
    held: bool = False  # under a slur after its first note: the syllable before goes on (a melisma)


@dataclass(frozen=True)
class Phrase:
    notes: tuple[TuneNote, ...]
    repeat_of: int | None = None  # index of the earlier phrase whose words this one sings again
    rhyme: str | None = None  # rhyme letter of its last syllable

    @property
    def shape(self) -> tuple[tuple[int, Fraction, bool, bool], ...]:
        """What makes two phrases the same tune: intervals, lengths, strong beats, melismas."""
        first = self.notes[0].pitch
        return tuple((n.pitch - first, n.length, n.strong, n.held) for n in self.notes)

    @property
    def sung(self) -> tuple[TuneNote, ...]:
        """The notes a new syllable starts on: one per syllable of the phrase's line."""
        return tuple(n for n in self.notes if not n.held)


@dataclass(frozen=True)
class Tune:
    phrases: tuple[Phrase, ...]
    meter: str
    tempo: int
    key: str
    source: str = ""

    @property
    def notes(self) -> tuple[TuneNote, ...]:
        return tuple(n for p in self.phrases for n in p.notes)

    @property
    def distinct(self) -> list[int]:
        """Indexes of the phrases that get words of their own (the first time each tune comes)."""
        return [i for i, p in enumerate(self.phrases) if p.repeat_of is None]


def read_tune(path: Path, scheme: str | None = None) -> Tune:
    """The tune of a MIDI or ABC file, its phrases found and its rhymes given out."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise FormError(f"melody {str(path)!r}: a MIDI (.mid) or ABC (.abc) file is needed")
    if not path.is_file():
        raise FormError(f"melody {str(path)!r} does not exist")
    if path.stat().st_size > MAX_BYTES:
        raise FormError(f"melody {str(path)!r} is over {MAX_BYTES // 1000} kB: a melody to sing is smaller")
    fmt = "abc" if path.suffix.lower() == ".abc" else "midi"
    return _parse(path.read_bytes(), fmt, path.name, (scheme or "").strip().upper())


def read_abc(text: str, scheme: str | None = None) -> Tune:
    """The tune written out in ABC notation (the way a client over HTTP gives one)."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise FormError(f"tune_abc is over {MAX_BYTES // 1000} kB: a melody to sing is smaller")
    return _parse(text.encode("utf-8"), "abc", "ABC", (scheme or "").strip().upper())


def midi_text(path: Path) -> str:
    """A MIDI file as the base64 text of `tune_midi`, so that the tune is saved with the work (a
    path would name a file that may be gone when the work is read again)."""
    read_tune(path)  # a missing, oversized or unreadable melody is refused here, by its name
    return base64.b64encode(Path(path).read_bytes()).decode("ascii")


def read_midi_text(text: str, scheme: str | None = None) -> Tune:
    """The tune of `tune_midi`: a MIDI file in base64 (how a client over HTTP gives one)."""
    if len(text) > MAX_BYTES * 4 // 3 + 4:
        bound = f"a melody to sing is a MIDI file under {MAX_BYTES // 1000} kB"
        raise InvalidParam("tune_midi", f"{len(text)} characters", bound)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidParam("tune_midi", text[:40], "give the bytes of a .mid file in base64") from None
    if not data.startswith(b"MThd"):
        raise InvalidParam("tune_midi", text[:40], "give a MIDI file (it begins MThd); ABC text goes in tune_abc")
    return _parse(data, "midi", "MIDI", (scheme or "").strip().upper())


def tune_from_inputs(inputs: Mapping[str, str]) -> Tune | None:
    """The tune a lyrics form's inputs name: ABC text (`tune_abc`), a MIDI file in base64
    (`tune_midi`) or a file's path (`tune`), or None."""
    scheme = inputs.get("scheme") or None
    if inputs.get("tune_abc"):
        return read_abc(inputs["tune_abc"], scheme)
    if inputs.get("tune_midi"):
        return read_midi_text(inputs["tune_midi"], scheme)
    if inputs.get("tune"):
        return read_tune(Path(inputs["tune"]), scheme)
    return None


@lru_cache(maxsize=32)  # a server sees many tunes: keep the last few, not all
def _parse(data: bytes, fmt: str, source: str, scheme: str) -> Tune:
    import music21

    try:  # from bytes: music21 leaves a file it fails on open
        score = music21.converter.parseData(data if fmt == "midi" else data.decode("utf-8", "replace"), format=fmt)
    except Exception as exc:  # music21 raises many kinds for a damaged file
        raise FormError(f"melody {source!r} could not be read: {exc}") from exc
    parts = list(getattr(score, "parts", None) or [])
    sings = next((p for p in parts if p.recurse().notes), score)  # the first part that sings
    slurred = {  # onsets of the notes a slur carries on from its first
        Fraction(n.getOffsetInHierarchy(sings)).limit_denominator(96)
        for slur in score.recurse().getElementsByClass("Slur")
        for n in slur.getSpannedElements()[1:]
        if sings in n.containerHierarchy()
    }
    part = sings.stripTies()
    signature = part.recurse().getElementsByClass("TimeSignature").first()
    meter = signature.ratioString if signature is not None else "4/4"
    mark = part.recurse().getElementsByClass("MetronomeMark").first()
    tempo = round(mark.getQuarterBPM()) if mark is not None and mark.number else 96
    key_signature = part.recurse().getElementsByClass("KeySignature").first()
    key = key_signature.asKey().tonic.name.replace("-", "b") if key_signature is not None else "C"
    notes: list[TuneNote] = []
    breaks: set[int] = set()  # indexes of notes a phrase ends on
    bar_ends: set[int] = set()  # indexes of notes that end their bar (a pickup bar is a short one)
    for element in part.recurse().notesAndRests:
        onset = Fraction(element.getOffsetInHierarchy(part)).limit_denominator(96)
        length = Fraction(element.quarterLength).limit_denominator(96)
        if length <= 0:
            continue  # grace notes carry no syllable
        if element.isRest:
            if notes:
                breaks.add(len(notes) - 1)
            continue
        pitch = max(p.midi for p in element.pitches) if element.isChord else element.pitch.midi
        held = onset in slurred and bool(notes) and len(notes) - 1 not in breaks
        if _ends_its_bar(element, length):
            bar_ends.add(len(notes))
        notes.append(TuneNote(int(pitch), onset, length, _strong(float(element.beatStrength), meter), held))
    if len(notes) < MIN_NOTES:
        raise FormError(
            f"melody {source!r} has {len(notes)} note(s): a tune to set words to needs at least {MIN_NOTES}"
        )
    median = statistics.median(n.length for n in notes)
    long_notes = {i for i, n in enumerate(notes) if n.length >= max(2 * median, Fraction(1))}
    breaks |= long_notes & bar_ends
    breaks.add(len(notes) - 1)
    phrases = _repeats(_split_long(notes, sorted(breaks)))
    return Tune(_rhymed(phrases, scheme), meter, tempo, key, source)


def _ends_its_bar(element: object, length: Fraction) -> bool:
    """Whether the note ends where its bar ends, measured in the bar itself: a tune that starts
    with a pickup (an upbeat bar shorter than the rest) keeps its later bar lines where they are."""
    measure = element.getContextByClass("Measure")  # type: ignore[attr-defined]
    if measure is None:
        return False
    end = Fraction(element.offset).limit_denominator(96) + length  # type: ignore[attr-defined]
    return end == Fraction(measure.duration.quarterLength).limit_denominator(96)


def _strong(beat_strength: float, meter: str) -> bool:
    """Beat 1, and the middle of a bar of four beats or two compound beats (4/4's beat 3, 6/8's
    second dotted quarter); music21 gives 3/4's beats 2 and 3 the strength of 4/4's beat 3, but a
    waltz has one strong beat."""
    numerator = int(meter.split("/")[0]) if meter.split("/")[0].isdigit() else 4
    return beat_strength >= 1.0 or (beat_strength >= 0.5 and numerator in (4, 6, 12))


def _split_long(notes: list[TuneNote], ends: list[int]) -> list[tuple[TuneNote, ...]]:
    out: list[tuple[TuneNote, ...]] = []
    start = 0
    for end in ends:
        pending = [notes[start : end + 1]]
        while pending:
            phrase = pending.pop(0)
            if len(phrase) <= MAX_PHRASE:
                first = phrase[0]  # a phrase starts a syllable, even where a slur ran into it
                out.append((replace(first, held=False), *phrase[1:]) if first.held else tuple(phrase))
                continue
            middle = range(len(phrase) // 4, 3 * len(phrase) // 4)
            cut = max(middle, key=lambda i: (phrase[i].length, -abs(i - len(phrase) // 2)))
            pending[:0] = [phrase[: cut + 1], phrase[cut + 1 :]]
        start = end + 1
    return out


def _repeats(phrases: list[tuple[TuneNote, ...]]) -> list[Phrase]:
    """Which phrases are sung to an earlier phrase's words: those in a run of two or more that
    repeats an earlier run to the same notes (a chorus). A phrase sung twice alone to new words
    (twinkle's "up above the world so high, / like a diamond in the sky") gets words of its own."""
    shapes = [Phrase(notes).shape for notes in phrases]
    tune_of = [next((j for j in range(i) if shapes[j] == shapes[i]), None) for i in range(len(phrases))]

    def in_run(i: int) -> bool:
        j = tune_of[i]
        if j is None:
            return False
        after = i + 1 < len(phrases) and tune_of[i + 1] == j + 1 and j + 1 < i
        before = i > 0 and j > 0 and tune_of[i - 1] == j - 1
        return after or before

    out: list[Phrase] = []
    for i, notes in enumerate(phrases):
        j = tune_of[i]
        source = j if j is not None and in_run(i) else None
        while source is not None and out[source].repeat_of is not None:
            source = out[source].repeat_of  # a chorus sung a third time repeats the first
        out.append(Phrase(notes, source))
    return out


def _rhymed(phrases: list[Phrase], scheme: str) -> tuple[Phrase, ...]:
    if scheme and not scheme.replace("-", "").isalpha():
        raise FormError(f"scheme {scheme!r}: rhyme letters (A-Z, - for unrhymed), one per phrase, e.g. AABB")
    distinct = [i for i, p in enumerate(phrases) if p.repeat_of is None]
    letters: dict[int, str | None] = {}
    for k, i in enumerate(distinct):
        if scheme:
            letter = scheme[k % len(scheme)]
            # the scheme repeats: each pass through it rhymes anew (AABB CCDD ...)
            letters[i] = None if letter == "-" else f"{letter}{k // len(scheme)}"
        else:
            paired = k // 2 * 2 + 1 < len(distinct)
            letters[i] = f"R{k // 2}" if paired else None
    return tuple(
        Phrase(p.notes, p.repeat_of, letters[p.repeat_of if p.repeat_of is not None else i])
        for i, p in enumerate(phrases)
    )
