"""Check a melody file against its lyrics: one lyric event per sung syllable, stress on strong beats."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fabula.music.export import read_midi
from fabula.music.melody import METERS
from fabula.music.syllables import line_syllables
from fabula.verse.lyrics import split_song

STRONG_BEAT_TARGET = 0.9


def check_melody(midi: Path, lyrics: str | None = None) -> dict[str, Any]:
    data = read_midi(midi)
    violations: list[str] = []
    if data["meter"] not in METERS:
        violations.append(f"meter {data['meter']} is not one fabula writes (4/4 or 3/4)")
        return {"ok": False, "violations": violations}
    beats, strong = METERS[data["meter"]]
    if len(data["lyrics"]) != len(data["notes"]):
        violations.append(f"{len(data['lyrics'])} lyric events for {len(data['notes'])} notes")
    words = "".join(t if t.endswith("-") else t + " " for t in data["lyrics"]).replace("-", "")
    stresses = [s.stressed for s in line_syllables(words)]
    expected = None
    if lyrics is not None:
        sung = [line for _, lines in split_song(lyrics) for line in lines] or lyrics.splitlines()
        per_line = [line_syllables(line) for line in sung]
        expected = sum(len(s) for s in per_line)
        # accents depend on the place in the line (Chinese), so read them line by line
        stresses = [s.stressed for line in per_line for s in line]
        if expected != len(data["lyrics"]):
            violations.append(f"{len(data['lyrics'])} lyric events, but the lyrics have {expected} syllables")
    on_strong = [i for i, (onset, _) in enumerate(data["notes"]) if onset % (beats * 2) in strong]
    stressed = [i for i in on_strong if i < len(stresses) and stresses[i]]
    share = len(stressed) / len(on_strong) if on_strong else 1.0
    if share < STRONG_BEAT_TARGET:
        violations.append(f"only {share:.0%} of strong-beat notes carry a stressed syllable (target 90%)")
    return {
        "ok": not violations,
        "violations": violations,
        "notes": len(data["notes"]),
        "lyric_events": len(data["lyrics"]),
        "expected_syllables": expected,
        "strong_beat_stress": round(share, 4),
        "meter": data["meter"],
    }
