"""Ci (词) by tune pattern (词牌): each tune's clauses, the 平仄 of every position and its rhymes.

A tune fixes how many clauses a ci has, how long each is, which positions must be 平 or 仄 and
which clause ends rhyme with which. The table is not typed in from a 词谱: it is read off the Song
ci corpus (npm `chinese-poetry`, 21,053 ci) by `build_table`, and shipped as `cipai.json`:

- A tune's shapes (its clause lengths in order) are the ones at least `VARIANT_SHARE` of its poems
  take (水调歌头 has three: its 11-character sentences are pointed 6+5 or 4+7).
- A position is 平 where at least `FIXED` of the poems of that shape put a 平 character there (by
  the most common modern reading, the 中华新韵 convention of `fabula.verse.chinese`), 仄 where at
  most 1 - `FIXED` do, and free (中) otherwise.
- Two clause ends rhyme when their characters share a 中华新韵 rhyme in at least `RHYMED` of the
  poems; the measured share for unrelated ends is 0.04-0.22, for rhymes 0.52-1.00 (满江红's 入声
  rhymes are the lowest: modern Mandarin scattered them). Rhyming ends are grouped (A, B, ...), so
  a tune that changes rhyme (菩萨蛮, 清平乐) gets one letter per rhyme.
- A clause that repeats the one before it in at least `REPEATED` of the poems (如梦令's 叠句
  "知否，知否") is marked as a repeat.
- Each clause ends with the punctuation most poems give it: "。" (also for ？ and ！), "，" (also
  for ； and ：) or "、" (a pause inside a sentence, as 满江红's three-character 逗).

`check_ci` judges a ci against its tune as `check_chinese` judges regulated verse: a heteronym
fits wherever any reading fits, and rhyming ends must share one rhyme by any reading. How many of
the corpus's own poems each tune accepts is measured by `acceptance` (benchmarks/cipai.py).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from fabula.errors import FormError
from fabula.verse.chinese import HAN, char_tone, rhymes_of

VARIANT_SHARE = 0.15
FIXED = 0.85
RHYMED = 0.45
REPEATED = 0.8
TUNES = ("如梦令", "浣溪沙", "菩萨蛮", "卜算子", "清平乐", "蝶恋花", "西江月", "水调歌头")
MORE_TUNES = ("鹧鸪天", "临江仙", "点绛唇", "满江红")
EDITORS_NOTE = re.compile(r"[（(\[［{【<《][^）)\]］}】>》]*[）)\]］}】>》]")
CLAUSE = re.compile(r"([^，。？！；、：\s]+)([，。？！；、：]?)")
STOP = {"。": "。", "？": "。", "！": "。", "，": "，", "；": "，", "：": "，", "、": "、", "": "。"}


@dataclass(frozen=True)
class CiClause:
    tones: str  # one of P (平), Z (仄), * (free) per character
    punct: str  # "，", "。" or "、"
    rhyme: str | None = None  # rhyme letter shared by the clause ends that rhyme together
    repeats: int | None = None  # index of the clause this one repeats word for word (叠句)

    @property
    def length(self) -> int:
        return len(self.tones)


@dataclass(frozen=True)
class CiShape:
    clauses: tuple[CiClause, ...]
    poems: int  # corpus poems of this shape the pattern was read from

    @property
    def lengths(self) -> tuple[int, ...]:
        return tuple(c.length for c in self.clauses)


@dataclass(frozen=True)
class Cipai:
    name: str
    shapes: tuple[CiShape, ...]  # the most common first: constrained decoding writes that one

    def shape_for(self, lengths: tuple[int, ...]) -> CiShape | None:
        return next((s for s in self.shapes if s.lengths == lengths), None)


def clauses_of(text: str) -> list[tuple[str, str]]:
    """(Han characters, punctuation) of each clause; editors' notes and other marks dropped."""
    out = []
    for body, punct in CLAUSE.findall(EDITORS_NOTE.sub("", text)):
        chars = "".join(HAN.findall(body))
        if chars:
            out.append((chars, punct))
    return out


@cache
def load_table() -> dict[str, Cipai]:
    raw = json.loads(resources.files("fabula.verse").joinpath("cipai.json").read_text(encoding="utf-8"))
    return {name: _from_json(name, entry) for name, entry in raw["tunes"].items()}


def cipai(name: str) -> Cipai:
    table = load_table()
    if name not in table:
        raise FormError(f"cipai {name!r} is not in the tune table; choose one of: {', '.join(table)}")
    return table[name]


def _from_json(name: str, entry: Mapping[str, Any]) -> Cipai:
    shapes = tuple(
        CiShape(
            tuple(CiClause(c["tones"], c["punct"], c.get("rhyme"), c.get("repeats")) for c in s["clauses"]), s["poems"]
        )
        for s in entry["shapes"]
    )
    return Cipai(name, shapes)


def to_json(tune: Cipai) -> dict[str, Any]:
    def clause(c: CiClause) -> dict[str, Any]:
        out: dict[str, Any] = {"tones": c.tones, "punct": c.punct}
        if c.rhyme:
            out["rhyme"] = c.rhyme
        if c.repeats is not None:
            out["repeats"] = c.repeats
        return out

    return {"shapes": [{"poems": s.poems, "clauses": [clause(c) for c in s.clauses]} for s in tune.shapes]}


def tune_of(title: str) -> str:
    """The tune of a corpus title: "秋夜月・相见欢" is sung to 秋夜月."""
    return re.split(r"[·・]", title, maxsplit=1)[0].strip()


def build_table(records: Iterable[Mapping[str, Any]], names: Iterable[str] = TUNES + MORE_TUNES) -> dict[str, Cipai]:
    """Read each tune's shapes, tones, rhymes and repeats off the corpus records ({title, lines})."""
    wanted = set(names)
    poems: dict[str, list[list[tuple[str, str]]]] = {name: [] for name in wanted}
    for record in records:
        tune = tune_of(str(record.get("title", "")))
        if tune in wanted:
            poems[tune].append(clauses_of("".join(record.get("lines", []))))
    table = {}
    for name in names:
        shapes = Counter(tuple(len(chars) for chars, _ in poem) for poem in poems[name])
        if not shapes:
            raise FormError(f"no poem under the tune {name!r} in the corpus")
        total = sum(shapes.values())
        kept = [lengths for lengths, n in shapes.most_common() if n >= VARIANT_SHARE * total] or [
            shapes.most_common(1)[0][0]
        ]
        table[name] = Cipai(
            name, tuple(_read_shape([p for p in poems[name] if tuple(len(c) for c, _ in p) == k]) for k in kept)
        )
    return table


def _read_shape(poems: list[list[tuple[str, str]]]) -> CiShape:
    n = len(poems)
    count = len(poems[0])

    def tone(i: int, j: int) -> str:
        ping = sum(char_tone(p[i][0][j]).primary_ping for p in poems) / n
        return "P" if ping >= FIXED else ("Z" if ping <= 1 - FIXED else "*")

    def rhymes_together(i: int, j: int) -> bool:
        shared = sum(bool(set(rhymes_of(p[i][0][-1])) & set(rhymes_of(p[j][0][-1]))) for p in poems)
        return shared >= RHYMED * n

    group = list(range(count))  # union-find over clause ends that rhyme together

    def root(i: int) -> int:
        while group[i] != i:
            i = group[i]
        return i

    for i in range(count):
        for j in range(i + 1, count):
            if rhymes_together(i, j):
                group[root(j)] = root(i)
    sizes = Counter(root(i) for i in range(count))
    letters: dict[int, str] = {}
    clauses = []
    for i in range(count):
        letter = None
        if sizes[root(i)] > 1:
            letter = letters.setdefault(root(i), "ABCDEFGHIJ"[len(letters)])
        repeats = None
        if i and len(poems[0][i][0]) == len(poems[0][i - 1][0]):
            same = sum(p[i][0] == p[i - 1][0] for p in poems)
            repeats = i - 1 if same >= REPEATED * n else None
        punct = Counter(STOP.get(p[i][1], "，") for p in poems).most_common(1)[0][0]
        tones = "".join(tone(i, j) for j in range(len(poems[0][i][0])))
        clauses.append(CiClause(tones, punct, letter, repeats))
    return CiShape(tuple(clauses), n)


def check_ci(text: str, tune: Cipai | str) -> dict[str, Any]:
    """The tune's rules a ci breaks, with each clause's tones, as `check_chinese` reports verse."""
    tune = cipai(tune) if isinstance(tune, str) else tune
    name = tune.name
    clauses = clauses_of(text)
    lengths = tuple(len(chars) for chars, _ in clauses)
    shape = tune.shape_for(lengths)
    violations: list[str] = []
    if shape is None:
        shape = tune.shapes[0]
        wanted = " or ".join(",".join(map(str, s.lengths)) for s in tune.shapes)
        violations.append(f"{name} needs clauses of {wanted} characters; found {','.join(map(str, lengths)) or 'none'}")
    lines = []
    for i, ((chars, _), rule) in enumerate(zip(clauses, shape.clauses, strict=False), start=1):
        tones = [char_tone(c) for c in chars]
        for j, (tone, want) in enumerate(zip(tones, rule.tones, strict=False), start=1):
            if (want == "P" and not tone.ping) or (want == "Z" and not tone.ze):
                violations.append(
                    f"clause {i} character {j} '{tone.char}' is {tone.mark} ({'/'.join(tone.readings)}), "
                    f"needs {'平' if want == 'P' else '仄'}"
                )
        if rule.repeats is not None and rule.repeats < len(clauses) and chars != clauses[rule.repeats][0]:
            violations.append(f"clause {i} should repeat clause {rule.repeats + 1} ({clauses[rule.repeats][0]})")
        lines.append(
            {
                "text": chars,
                "tones": "".join(t.mark for t in tones),
                "expected": rule.tones.replace("P", "平").replace("Z", "仄").replace("*", "中"),
                "rhyme": rule.rhyme,
                "heteronyms": [t.char for t in tones if len(t.readings) > 1],
            }
        )
    rhyme_names: dict[str, str | None] = {}
    for letter in sorted({c.rhyme for c in shape.clauses if c.rhyme}):
        ends = [
            (i + 1, clauses[i][0][-1]) for i, c in enumerate(shape.clauses) if c.rhyme == letter and i < len(clauses)
        ]
        shared = set.intersection(*(set(rhymes_of(ch)) for _, ch in ends)) if ends else set()
        rhyme_names[letter] = sorted(shared)[0] if shared else None
        if ends and not shared:
            detail = ", ".join(f"clause {n} '{ch}' {'/'.join(rhymes_of(ch)) or '?'}" for n, ch in ends)
            violations.append(f"rhyme {letter}: its clause ends must share one 中华新韵 rhyme: {detail}")
    return {
        "ok": not violations,
        "form": "ci",
        "cipai": name,
        "title": f"词·{name}",
        "rhyme_system": "中华新韵",
        "shape": ",".join(map(str, shape.lengths)),
        "rhymes": rhyme_names,
        "violations": violations,
        "lines": lines,
    }


def acceptance(records: Iterable[Mapping[str, Any]], table: Mapping[str, Cipai]) -> dict[str, dict[str, float]]:
    """Per tune: its corpus poems, the share whose shape is one of the tune's, and the share the
    whole check accepts (shape, tones and rhymes)."""
    counts: dict[str, Counter[str]] = {name: Counter() for name in table}
    for record in records:
        name = tune_of(str(record.get("title", "")))
        if name not in table:
            continue
        text = "".join(record.get("lines", []))
        lengths = tuple(len(chars) for chars, _ in clauses_of(text))
        counts[name]["poems"] += 1
        if table[name].shape_for(lengths) is not None:
            counts[name]["shape"] += 1
            counts[name]["accepted"] += check_ci(text, table[name])["ok"]
    return {
        name: {
            "poems": c["poems"],
            "shape": c["shape"] / c["poems"] if c["poems"] else 0.0,
            "accepted": c["accepted"] / c["poems"] if c["poems"] else 0.0,
        }
        for name, c in counts.items()
    }
