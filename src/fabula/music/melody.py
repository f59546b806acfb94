"""Compose a melody for a song: rhythm by dynamic programming over an eighth-note grid, pitch by
a seeded walk over the scale that lands stressed syllables on chord tones and phrase ends on
stable degrees. The chorus (and any repeated section) gets the same melody each time.

Rhythm: each lyric line fills a whole number of bars. Syllable onsets are chosen to minimise a
cost: an unstressed syllable on a strong beat (beat 1, and beat 3 in 4/4) costs much, a stressed
one off the beat costs a little, and uneven note lengths cost a little. Notes never cross a bar
line (a rest fills instead), so ABC and MIDI agree note for note.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from fabula.errors import FormError
from fabula.music.syllables import Syllable, line_syllables
from fabula.verse.lyrics import NAMES, REPEATED, split_song

MAJOR = (0, 2, 4, 5, 7, 9, 11)
KEYS = {"C": 60, "D": 62, "E": 64, "F": 65, "G": 67, "A": 69, "B": 71, "Bb": 70, "Eb": 63, "Ab": 68}
METERS = {"4/4": (4, (0, 4)), "3/4": (3, (0,))}  # beats per bar, strong eighth-slots in a bar
PROGRESSION = ((0, 2, 4), (3, 5, 0), (4, 6, 1), (0, 2, 4))  # I IV V I, as scale-degree triads
REPEATED_LABELS = {NAMES[kind] for kind in REPEATED}
FREE_STEPS = (-2, -1, -1, 0, 1, 1, 2)
TONE_STEPS = {1: (0, 0, 1), 2: (1, 1, 2), 3: (-1, -2, -2), 4: (-1, -1, -2), 5: (-1, 0)}


@dataclass(frozen=True)
class Note:
    pitch: int  # MIDI note number
    start: int  # in eighths from the song's start
    length: int  # in eighths
    syllable: Syllable
    section: str
    line_end: bool = False  # the last note of a lyric line
    held: bool = False  # a melisma: the syllable of the note before goes on over this one


@dataclass(frozen=True)
class Melody:
    key: str
    tempo: int
    meter: str
    notes: tuple[Note, ...]
    bars: int
    unit: int = 2  # grid slots per quarter note: eighths for a composed tune, finer for a given one

    @property
    def slots_per_bar(self) -> int:
        beats, value = (int(x) for x in self.meter.split("/"))
        return beats * 4 * self.unit // value

    def on_strong_beat(self, note: Note) -> bool:
        strong = METERS.get(self.meter, (0, (0,)))[1]  # in eighths; a meter we do not compose in: beat 1
        return (note.start % self.slots_per_bar) * 2 in {slot * self.unit for slot in strong}

    def strong_beat_stress(self) -> float:
        """Share of notes on strong beats that carry a stressed syllable."""
        strong = [n for n in self.notes if self.on_strong_beat(n)]
        return sum(n.syllable.stressed for n in strong) / len(strong) if strong else 1.0


def _rhythm(sylls: list[Syllable], bar_slots: int, strong: tuple[int, ...]) -> tuple[list[int], int]:
    """Onset slot of each syllable within the line, and the line's length in slots."""
    n = len(sylls)
    bars = max(2, math.ceil(n / (bar_slots * 0.75)))
    total = bars * bar_slots

    def cost(i: int, slot: int) -> float:
        pos = slot % bar_slots
        if pos in strong:
            return 0.0 if sylls[i].stressed else 10.0
        if pos % 2 == 0:
            return 1.0 if sylls[i].stressed else 0.2
        return 3.0 if sylls[i].stressed else 0.5

    inf = float("inf")
    best = [[inf] * total for _ in range(n)]
    back = [[-1] * total for _ in range(n)]
    for s in range(min(4, total)):
        best[0][s] = cost(0, s) + 0.5 * s
    for i in range(1, n):
        for s in range(1, total - 1):
            for gap in range(1, 5):
                prev = s - gap
                if prev >= 0 and best[i - 1][prev] < inf:
                    value = best[i - 1][prev] + cost(i, s) + 0.4 * abs(gap - 2)
                    if value < best[i][s]:
                        best[i][s], back[i][s] = value, prev
    last = min(range(total - 1), key=lambda s: best[n - 1][s] + 0.3 * (total - s))
    slots = [last]
    for i in range(n - 1, 0, -1):
        slots.append(back[i][slots[-1]])
    return slots[::-1], total


def _pitches(
    sylls: list[Syllable],
    slots: list[int],
    bar_slots: int,
    strong: tuple[int, ...],
    final_degree: int,
    rng: random.Random,
) -> list[int]:
    """Scale degrees: a stepwise walk; stressed syllables on strong beats take chord tones. A
    Chinese syllable's step follows its tone, so the tune does not sing a word into another one:
    tone 1 (high level) stays or steps up, 2 (rising) rises, 3 (low) and 4 (falling) go down."""
    degree = rng.choice((0, 2, 4))
    out = []
    for i, (syl, slot) in enumerate(zip(sylls, slots, strict=True)):
        if i == len(sylls) - 1:
            degree = final_degree
        else:
            degree = max(-3, min(7, degree + rng.choice(TONE_STEPS.get(syl.tone, FREE_STEPS))))
            chord = PROGRESSION[(slot // bar_slots) % len(PROGRESSION)]
            if syl.stressed and slot % bar_slots in strong and degree % 7 not in chord:
                degree = min((d for d in range(-3, 8) if d % 7 in chord), key=lambda d: abs(d - degree))
        out.append(degree)
    return out


def _midi(key: str, degree: int) -> int:
    octave, step = divmod(degree, 7)
    return KEYS[key] + 12 * octave + MAJOR[step]


def compose(song: str, key: str = "C", tempo: int = 96, meter: str = "4/4", seed: int = 0) -> Melody:
    if key not in KEYS:
        raise FormError(f"key={key!r} is not supported; choose one of: {', '.join(KEYS)} (major)")
    if meter not in METERS:
        raise FormError(f"meter={meter!r} is not supported; choose 4/4 or 3/4")
    if not 40 <= tempo <= 240:
        raise FormError(f"tempo={tempo} is out of range: 40 to 240 beats per minute")
    sections = split_song(song) or [("Song", [line for line in song.splitlines() if line.strip()])]
    beats, strong = METERS[meter]
    bar_slots = beats * 2
    rng = random.Random(seed)
    notes: list[Note] = []
    cursor = 0
    remembered: dict[str, list[tuple[list[int], int, list[int]]]] = {}
    for label, lines in sections:
        kind = label.split()[0]
        repeat = kind in REPEATED_LABELS
        plan = remembered.get(kind) if repeat else None
        new_plan = []
        for index, line in enumerate(lines):
            sylls = line_syllables(line)
            if not sylls:
                continue
            if plan and index < len(plan):
                slots, total, degrees = plan[index]
            else:
                slots, total = _rhythm(sylls, bar_slots, strong)
                final = 0 if index == len(lines) - 1 or index % 2 == 1 else 4
                degrees = _pitches(sylls, slots, bar_slots, strong, final, rng)
            new_plan.append((slots, total, degrees))
            for i, (syl, slot, degree) in enumerate(zip(sylls, slots, degrees, strict=True)):
                end = slots[i + 1] if i + 1 < len(slots) else total
                bar_end = (slot // bar_slots + 1) * bar_slots
                length = max(1, min(end, bar_end) - slot)
                last = i == len(sylls) - 1
                notes.append(Note(_midi(key, degree), cursor + slot, length, syl, label, line_end=last))
            cursor += total
        if repeat and kind not in remembered:
            remembered[kind] = new_plan
    if not notes:
        raise FormError("the lyrics have no words to set to music")
    return Melody(key, tempo, meter, tuple(notes), cursor // bar_slots)
