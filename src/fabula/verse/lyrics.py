"""Song lyrics: a structure of sections, each with its own line count, syllables and rhymes.

A structure such as VCVCBC names sections in order (V verse, C chorus, B bridge, P pre-chorus).
Every verse is new; the chorus (and a repeated pre-chorus) is written once and sung again
verbatim. Generation writes the distinct sections in one constrained pass: V1, C, V2, B for VCVCBC,
each with its own rhyme letters. `assemble` then lays out the whole song with section headers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fabula.errors import FormError
from fabula.verse.check import line_report
from fabula.verse.forms import LineSpec, VerseForm

NAMES = {"V": "Verse", "C": "Chorus", "B": "Bridge", "P": "Pre-Chorus"}
REPEATED = {"C", "P"}  # sung again verbatim each time they come back
DEFAULT_SHAPES = {"V": "4x8:ABAB", "C": "4x6:AABB", "B": "2x8:AA", "P": "2x6:AA"}
# Chinese: syllables are characters; verses rhyme on the even lines, the chorus on all but line 3
ZH_SHAPES = {"V": "4x7:ABCB", "C": "4x5:AABA", "B": "2x7:AA", "P": "2x5:AA"}
LANGUAGES = ("en", "zh")
SHAPE = re.compile(r"^(\d{1,2})X(\d{1,2}):([A-Z]+)$")
HEADER = re.compile(r"^\[(Verse|Chorus|Bridge|Pre-Chorus)(?: (\d+))?\]$")


@dataclass(frozen=True)
class Section:
    kind: str  # V, C, B or P
    label: str  # "Verse 2", "Chorus"
    lines: int
    syllables: int
    scheme: str


def parse_shape(kind: str, shape: str) -> tuple[int, int, str]:
    match = SHAPE.match(shape.strip().upper())
    if not match:
        raise FormError(f"{NAMES[kind].lower()} shape {shape!r} is not LINESxSYLLABLES:SCHEME, e.g. 4x8:ABAB")
    lines, syllables, scheme = int(match[1]), int(match[2]), match[3]
    if not 1 <= lines <= 12 or not 3 <= syllables <= 16 or len(scheme) != lines:
        raise FormError(
            f"{NAMES[kind].lower()} shape {shape!r}: 1-12 lines of 3-16 syllables, one rhyme letter per line"
        )
    return lines, syllables, scheme


def song_sections(structure: str, shapes: dict[str, str] | None = None, language: str = "en") -> list[Section]:
    """The sections in sung order, with verse numbers; refuses unknown letters by name."""
    if language not in LANGUAGES:
        raise FormError(f"language {language!r}: use en (English) or zh (Chinese)")
    letters = structure.strip().upper()
    unknown = sorted(set(letters) - set(NAMES))
    if not letters or unknown:
        raise FormError(
            f"structure {structure!r} has {'no sections' if not letters else 'unknown sections ' + ''.join(unknown)}; "
            "use V (verse), C (chorus), B (bridge), P (pre-chorus), e.g. VCVCBC"
        )
    if len(letters) > 12:
        raise FormError(f"structure {structure!r} has {len(letters)} sections; at most 12")
    chosen = {**(ZH_SHAPES if language == "zh" else DEFAULT_SHAPES), **(shapes or {})}
    out, verses = [], 0
    for kind in letters:
        lines, syllables, scheme = parse_shape(kind, chosen[kind])
        if kind == "V":
            verses += 1
        label = f"Verse {verses}" if kind == "V" else NAMES[kind]
        out.append(Section(kind, label, lines, syllables, scheme))
    return out


def distinct_sections(sections: list[Section]) -> list[Section]:
    """The sections to write: each verse, and each repeated section once."""
    seen: set[str] = set()
    out = []
    for section in sections:
        key = section.label if section.kind not in REPEATED else section.kind
        if key not in seen:
            seen.add(key)
            out.append(section)
    return out


def generation_form(sections: list[Section]) -> VerseForm:
    """One verse form over the distinct sections, with rhyme letters made unique per section."""
    specs: list[LineSpec] = []
    next_letter = 0
    for section in distinct_sections(sections):
        mapping: dict[str, str] = {}
        for letter in section.scheme:
            if letter not in mapping:
                mapping[letter] = chr(ord("A") + next_letter % 26) + ("" if next_letter < 26 else str(next_letter))
                next_letter += 1
            specs.append(LineSpec(section.syllables, section.syllables, section.syllables, mapping[letter]))
    return VerseForm("lyrics", "song lyrics", tuple(specs), "")


def assemble(text: str, sections: list[Section]) -> str:
    """Lay out the song from the distinct sections' lines, repeating the chorus verbatim."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    blocks: dict[str, list[str]] = {}
    for section in distinct_sections(sections):
        key = section.label if section.kind not in REPEATED else section.kind
        blocks[key], lines = lines[: section.lines], lines[section.lines :]
    parts = []
    for section in sections:
        key = section.label if section.kind not in REPEATED else section.kind
        parts.append(f"[{section.label}]\n" + "\n".join(blocks.get(key, [])))
    return "\n\n".join(parts)


def split_song(text: str) -> list[tuple[str, list[str]]]:
    """(header label, lines) for each section of an assembled song."""
    out: list[tuple[str, list[str]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        match = HEADER.match(line)
        if match:
            out.append((line[1:-1], []))
        elif line and out:
            out[-1][1].append(line)
    return out


def zh_line_report(line: str) -> dict[str, Any]:
    """A Chinese lyric line: one syllable per character; the rhyme is the last character's
    中华新韵 rhyme under its most common reading."""
    from fabula.verse.chinese import HAN, primary_rhyme

    chars = HAN.findall(line)
    return {
        "text": line,
        "syllables": len(chars),
        "estimated_words": [],
        "end_word": chars[-1] if chars else "",
        "rhyme_key": primary_rhyme(chars[-1]) if chars else None,
        "stress": "",
    }


def zh_lines(text: str) -> str:
    """Generated Chinese lyrics (clauses ended by ，。！？) as one line per clause, punctuation dropped."""
    clauses = re.split(r"[，。！？；、\n]+", text)
    return "\n".join(c.strip() for c in clauses if c.strip())


def check_lyrics(text: str, sections: list[Section], language: str = "en") -> dict[str, Any]:
    """Every section's lines, syllables and rhymes; choruses identical; all violations listed."""
    from fabula.verse.check import detect_scheme

    report_line = zh_line_report if language == "zh" else line_report
    found = split_song(text)
    violations: list[str] = []
    if [label for label, _ in found] != [s.label for s in sections]:
        violations.append(f"sections are {[label for label, _ in found]}, expected {[s.label for s in sections]}")
    reports = []
    first_of: dict[str, list[str]] = {}
    for section, (label, lines) in zip(sections, found, strict=False):
        lines_report = [report_line(line) for line in lines]
        if len(lines) != section.lines:
            violations.append(f"{label}: {len(lines)} lines, needs {section.lines}")
        for i, rep in enumerate(lines_report, start=1):
            if rep["syllables"] != section.syllables:
                violations.append(f"{label} line {i}: {rep['syllables']} syllables, needs {section.syllables}")
        groups: dict[str, list[int]] = {}
        for i, letter in enumerate(section.scheme[: len(lines_report)]):
            groups.setdefault(letter, []).append(i)
        for letter, members in groups.items():
            keys = {lines_report[i]["rhyme_key"] for i in members}
            if len(keys) > 1 or None in keys:
                violations.append(f"{label}: lines {[m + 1 for m in members]} should rhyme ({letter})")
        if section.kind in REPEATED:
            if section.kind in first_of and first_of[section.kind] != lines:
                violations.append(f"{label} is not repeated verbatim")
            first_of.setdefault(section.kind, lines)
        reports.append({"section": label, "lines": lines_report, "rhyme_scheme": detect_scheme(lines_report)})
    return {"ok": not violations, "violations": violations, "sections": reports}
