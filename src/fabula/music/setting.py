"""Words set to a given tune: one syllable per note, stress on the strong beats, rhymes at phrase ends.

The tune (`fabula.music.tune`) gives the lines: one per phrase, as many syllables as the phrase has
notes to start one on (a melisma, the notes under a slur, sings one syllable; English: counted by
the CMU dictionary; Chinese: one character each). Only the phrases with words of
their own are written; a chorus phrase sings its earlier words again, laid out by `layout`.

- English: `TuneVerseConstraint` is the verse constraint with one more rule at each finished
  word: a syllable that falls on a strong-beat note must be stressed (`word_stresses`: the
  dictionary's stress, never a one-syllable function word). Lines end at word ends by
  construction, since every line is whole words.
- Chinese: each character's Mandarin tone follows the pitch movement into its note (the relation
  ReLyMe names): a rising step takes tone 1 or 2 (high level, rising), a falling step tone 3 or 4
  (low, falling), a repeated pitch any tone; the first note of a phrase is free.

`check_setting` judges any text against the tune by the same rules and reports the shares the
benchmarks quote (syllables per note, strong-beat stress, tone-pitch agreement).
"""

from __future__ import annotations

import re
from typing import Any

from fabula.decoding.constrained import CharacterConstraint
from fabula.errors import FormError
from fabula.music.tune import Phrase, Tune
from fabula.verse.chinese import HAN
from fabula.verse.constraint import VerseConstraint, VerseState
from fabula.verse.forms import LineSpec, VerseForm
from fabula.verse.lexicon import Lexicon

STRESS_TARGET = 0.9
TONE_TARGET = 0.9
RISING, FALLING = frozenset({1, 2}), frozenset({3, 4})


def tone_rule(phrase: Phrase) -> tuple[frozenset[int] | None, ...]:
    """The tones each character of the phrase may have, from the step into its first note (from
    the note before, the last of a melisma included)."""
    out: list[frozenset[int] | None] = [None]
    for before, note in zip(phrase.notes, phrase.notes[1:], strict=False):
        if not note.held:
            out.append(RISING if note.pitch > before.pitch else FALLING if note.pitch < before.pitch else None)
    return tuple(out)


def setting_form(tune: Tune) -> VerseForm:
    """The lines to write: one per phrase with words of its own, syllables = notes."""
    lines = tuple(
        LineSpec(len(p.sung), len(p.sung), len(p.sung), p.rhyme) for p in (tune.phrases[i] for i in tune.distinct)
    )
    return VerseForm("tune", f"words to {tune.source or 'a tune'}", lines, instruction(tune))


def instruction(tune: Tune) -> str:
    counts = ", ".join(str(len(tune.phrases[i].sung)) for i in tune.distinct)
    return f"Write song lyrics to a melody: {len(tune.distinct)} lines of {counts} syllables, one per note."


class TuneVerseConstraint(VerseConstraint):
    """The English verse constraint, and a stressed syllable on every strong-beat note."""

    def __init__(self, tune: Tune, lexicon: Lexicon) -> None:
        super().__init__(setting_form(tune), lexicon)
        self.strong = [tuple(n.strong for n in tune.phrases[i].sung) for i in tune.distinct]

    def _finish_word(self, s: VerseState) -> VerseState | None:
        after = super()._finish_word(s)
        if after is None or not s.partial:
            return after
        from fabula.music.syllables import word_stresses

        stresses = word_stresses(s.partial.rstrip("'"))
        strong = self.strong[s.line][s.used : s.used + len(stresses)]
        if any(beat and not stressed for beat, stressed in zip(strong, stresses, strict=False)):
            return None  # an unstressed syllable would fall on a strong beat
        return after


def constraint_for(tune: Tune, language: str, lexicon: Lexicon | None) -> CharacterConstraint:
    if language == "zh":
        from fabula.verse.chinese_constraint import ChineseLyricsConstraint

        phrases = [tune.phrases[i] for i in tune.distinct]
        lines = [(len(p.sung), p.rhyme or f"-{k}") for k, p in enumerate(phrases)]
        return ChineseLyricsConstraint(lines, {len(lines) - 1}, [tone_rule(p) for p in phrases])
    if lexicon is None:
        raise ValueError("English words to a tune need the pronouncing lexicon")
    return TuneVerseConstraint(tune, lexicon)


def layout(text: str, tune: Tune) -> str:
    """Every phrase's line in sung order, a chorus phrase repeating its earlier words."""
    written = [line.strip() for line in text.splitlines() if line.strip()]
    if "\n" not in text.strip() and any(c in text for c in "，。"):
        written = [part for part in re.split(r"(?<=[，。！？])", text.strip()) if part.strip()]
    lines: list[str] = []
    own = iter(written)
    for phrase in tune.phrases:
        if phrase.repeat_of is not None and phrase.repeat_of < len(lines):
            lines.append(lines[phrase.repeat_of])
        else:
            lines.append(next(own, ""))
    lines += list(own)  # anything left over is kept, for the check to report
    if any(HAN.search(line) for line in lines):  # Chinese: a comma after each phrase, a full stop at the end
        lines = [line.rstrip("，。！？；") + ("。" if i == len(lines) - 1 else "，") for i, line in enumerate(lines)]
    return "\n".join(lines)


def melody_json(tune: Tune) -> dict[str, Any]:
    """The tune as `--json` gives it: its facts and the notes of each phrase."""
    return {
        "source": tune.source,
        "meter": tune.meter,
        "tempo": tune.tempo,
        "key": tune.key,
        "phrases": [
            {
                "notes": [
                    {"pitch": n.pitch, "onset": float(n.onset), "length": float(n.length), "strong": n.strong}
                    | ({"held": True} if n.held else {})
                    for n in p.notes
                ],
                "syllables": len(p.sung),
                "repeats": p.repeat_of,
                "rhyme": p.rhyme,
            }
            for p in tune.phrases
        ],
    }


def check_setting(text: str, tune: Tune, language: str = "en") -> dict[str, Any]:
    """Lines against phrases: syllables per note, stress on strong beats (English) or tones
    following the pitch (Chinese), rhymes by the tune's letters, choruses repeated word for word."""
    from fabula.music.syllables import line_syllables
    from fabula.verse.chinese import primary_tone

    lines = [line.strip() for line in text.splitlines() if line.strip()]
    violations: list[str] = []
    if len(lines) != len(tune.phrases):
        violations.append(f"{len(lines)} lines for {len(tune.phrases)} melodic phrases: one line per phrase")
    matched = strong_total = strong_ok = steps = steps_ok = 0
    reports = []
    for i, (line, phrase) in enumerate(zip(lines, tune.phrases, strict=False), start=1):
        sylls, sung = line_syllables(line), phrase.sung
        if len(sylls) == len(sung):
            matched += 1
        else:
            held = len(phrase.notes) - len(sung)
            melismas = f" ({held} more held in melismas)" if held else ""
            violations.append(f"line {i}: {len(sylls)} syllables for {len(sung)} notes{melismas}")
        for k, (syl, note) in enumerate(zip(sylls, sung, strict=False)):
            if language == "zh":
                allowed = tone_rule(phrase)[k]
                if allowed is not None:  # the reading in context, or the character's most common one
                    steps += 1
                    steps_ok += syl.tone in allowed or primary_tone(syl.text) in allowed
            elif note.strong:
                strong_total += 1
                strong_ok += syl.stressed
        if (
            phrase.repeat_of is not None
            and phrase.repeat_of < len(lines)
            and _words(line) != _words(lines[phrase.repeat_of])
        ):
            violations.append(f"line {i} repeats the tune of line {phrase.repeat_of + 1}, so it sings its words")
        reports.append({"text": line, "syllables": len(sylls), "notes": len(sung), "rhyme": phrase.rhyme})
    violations += _rhyme_violations(lines, tune, language)
    stress = strong_ok / strong_total if strong_total else 1.0
    tones = steps_ok / steps if steps else 1.0
    if language != "zh" and stress < STRESS_TARGET:
        violations.append(f"only {stress:.0%} of strong-beat notes carry a stressed syllable (target 90%)")
    if language == "zh" and tones < TONE_TARGET:
        violations.append(f"only {tones:.0%} of pitch steps are followed by the tone (target 90%)")
    return {
        "ok": not violations,
        "violations": violations,
        "lines": reports,
        "phrases": len(tune.phrases),
        "syllables_per_note": round(matched / len(tune.phrases), 4),
        **({"tone_pitch_agreement": round(tones, 4)} if language == "zh" else {"strong_beat_stress": round(stress, 4)}),
    }


def _words(line: str) -> str:
    """A line without its closing punctuation: a chorus ends "," once and "." at the song's end."""
    return line.rstrip(" ,.;:!?，。；！？")


def _rhyme_violations(lines: list[str], tune: Tune, language: str) -> list[str]:
    groups: dict[str, list[int]] = {}
    for i, phrase in enumerate(tune.phrases[: len(lines)]):
        if phrase.rhyme and phrase.repeat_of is None:
            groups.setdefault(phrase.rhyme, []).append(i)
    out = []
    for members in groups.values():
        if len(members) < 2:
            continue
        if language == "zh":
            from fabula.verse.chinese import HAN, rhymes_of

            ends = [HAN.findall(lines[i])[-1:] for i in members]
            shared = set.intersection(*(set(rhymes_of(e[0])) if e else set() for e in ends))
            rhymed = bool(shared)
        else:
            from fabula.verse.check import line_report

            keys = {line_report(lines[i])["rhyme_key"] for i in members}
            rhymed = len(keys) == 1 and None not in keys
        if not rhymed:
            out.append(f"lines {[m + 1 for m in members]} end their phrases together and should rhyme")
    return out


def sung_melody(tune: Tune, text: str) -> Any:
    """The tune with its words, one syllable per note (a melisma's held notes carry none), as a
    `Melody` the MIDI, ABC and MusicXML writers take: on a grid fine enough for every onset and
    length (eighths, or sixteenths, ...)."""
    from math import lcm

    from fabula.music.melody import KEYS, Melody, Note
    from fabula.music.syllables import line_syllables

    lines = [line.strip() for line in text.splitlines() if line.strip()]
    notes = [n for p in tune.phrases for n in p.notes]
    unit = lcm(2, *(value.denominator for n in notes for value in (n.onset, n.length)))
    out = []
    for i, (phrase, line) in enumerate(zip(tune.phrases, lines, strict=False)):
        sylls = line_syllables(line)
        if len(sylls) != len(phrase.sung):
            raise FormError(f"line {i + 1} has {len(sylls)} syllables for {len(phrase.sung)} notes of the tune")
        words = iter(sylls)
        syl = sylls[0]
        for k, note in enumerate(phrase.notes):
            syl = syl if note.held else next(words)
            start, length = int(note.onset * unit), max(1, int(note.length * unit))
            last = k == len(phrase.notes) - 1
            out.append(Note(note.pitch, start, length, syl, f"Phrase {i + 1}", line_end=last, held=note.held))
    key = tune.key if tune.key in KEYS else "C"  # the writers spell other keys' notes with accidentals
    end = max(n.start + n.length for n in out)
    melody = Melody(key, tune.tempo, tune.meter, tuple(out), 0, unit)
    return Melody(key, tune.tempo, tune.meter, tuple(out), -(-end // melody.slots_per_bar), unit)
