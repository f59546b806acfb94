"""Couplets (对联): a second line (下联) written against a first (上联).

The rules kept, in the validator and by construction alike:
- the same number of characters;
- the first line ends 仄, the second 平 (by any reading in the check, the most common reading
  when writing, as for regulated verse);
- 平仄 opposed at the rhythm positions 二、四、六 (and so on), where the first line's character
  has one tone only;
- no character of the first line in the second, except where the first repeats a character: then
  the second repeats its own character at the same positions (风声雨声读书声 → 家事国事天下事);
  likewise the second line repeats none of its own characters unless the first does there;
- each position's class (`fabula.verse.parallel`: 名 动 形 数 副 代 虚) matches, where both are known:
  written so by construction, and measured (not counted as a violation) by the check, since 28%
  of the Tang poets' own parallel couplets miss at some position under the class table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from fabula.decoding.constrained import CharacterConstraint
from fabula.errors import InvalidParam
from fabula.verse.chinese import HAN, char_tone
from fabula.verse.parallel import classes_match, parallel_report

MAX_LENGTH = 15


def check_first_line(first: str) -> str:
    """The first line's characters, or a clear error: a couplet needs one line of Han characters
    ending on a 仄 character."""
    chars = "".join(HAN.findall(first))
    if not chars:
        raise InvalidParam("first", first or None, "a couplet needs its first line (上联): --set first=LINE")
    if len(chars) > MAX_LENGTH or len(chars) < 2:
        raise InvalidParam("first", first, f"a first line of 2 to {MAX_LENGTH} Han characters")
    last = char_tone(chars[-1])
    if not last.ze:
        raise InvalidParam(
            "first",
            first,
            f"a first line (上联) ends on a 仄 character; '{chars[-1]}' ({'/'.join(last.readings)}) is 平: "
            "is this the second line?",
        )
    return chars


def _partner_of_repeat(first: str, pos: int) -> int | None:
    """The earlier position whose character the first line repeats at `pos`, if any."""
    return next((i for i in range(pos) if first[i] == first[pos]), None)


def _opposed_here(first: str, pos: int) -> bool | None:
    """Whether position `pos` of the second line must be 平 (True) or 仄 (False), or None if free."""
    if pos == len(first) - 1:
        return True
    if pos % 2 == 0:
        return None
    tone = char_tone(first[pos])
    if tone.ping and tone.ze:
        return None  # a heteronym: either reading may be meant
    return not tone.ping


def check_couplet(text: str) -> dict[str, Any]:
    lines = ["".join(HAN.findall(clause)) for clause in re.split(r"[\n，。！？；,.!?;]+", text)]
    lines = [line for line in lines if line]
    violations: list[str] = []
    if len(lines) != 2:
        violations.append(f"a couplet has two lines, found {len(lines)}")
    first, second = (lines + ["", ""])[:2]
    if len(first) != len(second):
        violations.append(f"the lines have {len(first)} and {len(second)} characters: a couplet's are equal")
    if first and not char_tone(first[-1]).ze:
        violations.append(f"the first line must end 仄, '{first[-1]}' is 平")
    if second and not char_tone(second[-1]).ping:
        violations.append(f"the second line must end 平, '{second[-1]}' is 仄")
    for pos, char in enumerate(second[: len(first)]):
        tone = char_tone(char)
        want = _opposed_here(first, pos)
        if want is not None and pos < len(first) - 1 and not (tone.ping if want else tone.ze):
            violations.append(f"position {pos + 1}: '{char}' has the tone of '{first[pos]}'; opposed tones are needed")
        partner = _partner_of_repeat(first, pos)
        if partner is not None:
            if char != second[partner]:
                violations.append(
                    f"position {pos + 1}: the first line repeats '{first[pos]}' here, so the second must repeat "
                    f"'{second[partner]}'"
                )
        elif char in first:
            violations.append(f"position {pos + 1}: '{char}' is used in the first line")
        elif char in second[:pos]:
            violations.append(f"position {pos + 1}: '{char}' repeats within the second line")
    parallel = parallel_report(first, second)  # measured, not a violation: see fabula.verse.parallel
    return {
        "ok": not violations,
        "form": "couplet",
        "title": "对联",
        "lines": [
            {"text": line, "tones": "".join(char_tone(c).mark for c in line)} for line in (first, second) if line
        ],
        "parallel": parallel,
        "violations": violations,
    }


@dataclass(frozen=True)
class CoupletState:
    first: tuple[str, ...] = ()  # the first line, once given or written
    chars: tuple[str, ...] = ()  # the line being written
    punct_due: bool = False
    done: bool = False

    @property
    def at_line_start(self) -> bool:
        return not self.chars and not self.punct_due


class CoupletConstraint(CharacterConstraint):
    """The second line of a couplet, then "。", under every rule `check_couplet` applies. Without
    a first line, both are written: first `length` characters ending 仄 with 二、四、六 alternating
    (as a line of regulated verse does), then "，", then the second line against it."""

    def __init__(self, first: str | None = None, length: int = 7) -> None:
        self.first = check_first_line(first) if first else None
        self.length = len(self.first) if self.first else length
        if not 2 <= self.length <= MAX_LENGTH:
            raise InvalidParam("length", length, f"a couplet's lines have 2 to {MAX_LENGTH} characters")

    def token_budget(self) -> int:
        return (self.length + 1) * (1 if self.first else 2)

    def initial(self) -> CoupletState:
        return CoupletState(first=tuple(self.first or ""))

    def can_end(self, state: CoupletState) -> bool:
        return state.done

    def forced(self, s: CoupletState) -> str | None:
        if s.done:
            return None
        if s.punct_due:
            return "。" if s.first else "，"
        partner = _partner_of_repeat("".join(s.first), len(s.chars)) if s.first else None
        return s.chars[partner] if partner is not None else None

    def _char(self, s: CoupletState, char: str) -> CoupletState | None:
        if s.done:
            return None
        if s.punct_due:
            if not s.first:  # the first line is written: the second is written against it
                return CoupletState(first=s.chars) if char == "，" else None
            return replace(s, punct_due=False, done=True) if char == "。" else None
        if not HAN.fullmatch(char):
            return None
        fits = self._second(s, char) if s.first else self._first(s, char)
        if not fits:
            return None
        chars = (*s.chars, char)
        return replace(s, chars=chars, punct_due=len(chars) == self.length)

    def _first(self, s: CoupletState, char: str) -> bool:
        pos, ping = len(s.chars), char_tone(char).primary_ping
        if pos == self.length - 1:
            return not ping
        if pos % 2 == 1 and pos >= 3:
            return ping != char_tone(s.chars[pos - 2]).primary_ping
        return True

    def _second(self, s: CoupletState, char: str) -> bool:
        first, pos = "".join(s.first), len(s.chars)
        partner = _partner_of_repeat(first, pos)
        if partner is not None:
            return char == s.chars[partner]
        if char in first or char in s.chars:
            return False
        want = _opposed_here(first, pos)
        if want is not None and char_tone(char).primary_ping != want:
            return False
        return classes_match(first[pos], char)
