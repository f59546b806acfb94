"""Chinese regulated verse as a constraint over characters: may this character come next?

The constraint accepts only texts that `fabula.verse.chinese.check_chinese` passes, built one
character at a time, and is stricter in one way: the validator lets a heteronym fit wherever any
of its readings fits (fair to human poets), but pypinyin lists rare readings (至 has "die2"), so the
constraint judges each character by its most common reading alone.

Each line has the form's number of Han characters, then "，" (odd lines) or "。" (even lines);
positions 二四六 and the line's last character follow the 平仄 pattern; the
even lines end on 平 characters sharing one 中华新韵 rhyme (with line 1 when it rhymes), and a
rhyme character is not used twice.

In a 律诗 the second line of 颔联 and of 颈联 (lines 4 and 6) faces the line before it: each
position takes a character of the same class (`fabula.verse.parallel`) and never the same one.

An acrostic (藏头诗) fixes each line's first character as well; that position is free of 平仄.

The pattern is read off line 1 as the validator reads it: the second character's most common
reading chooses 平起 or 仄起, and the last character's chooses 首句入韵. Until those characters are
written, line 1 obeys what every candidate pattern shares (二 and 四 opposite).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from fabula.decoding.constrained import CharacterConstraint
from fabula.verse.chinese import (
    FORMS,
    HAN,
    PARALLEL_LINES,
    char_tone,
    expected_patterns,
    primary_rhyme,
    primary_tone,
)
from fabula.verse.parallel import classes_match


@dataclass(frozen=True)
class ChineseState:
    line: int = 0
    chars: tuple[str, ...] = ()  # characters of the current line
    first_line: tuple[str, ...] = ()  # line 1, once complete
    patterns: tuple[str, ...] = ()  # every line's pattern, once line 1 is complete
    rhymes: frozenset[str] | None = None  # the rhymes still shared by every rhyming line so far
    rhyme_chars: tuple[str, ...] = ()
    previous: tuple[str, ...] = ()  # the line before this one (a parallel line faces it)
    punct_due: bool = False  # the line is full: its punctuation comes next
    done: bool = False

    @property
    def at_line_start(self) -> bool:
        return not self.chars and not self.punct_due


class ChineseVerseConstraint(CharacterConstraint):
    def __init__(self, form: str, heads: str = "") -> None:
        if form not in FORMS:
            raise ValueError(f"unknown Chinese form {form!r}; known: {', '.join(FORMS)}")
        self.form = form
        self.length, self.count, self.title = FORMS[form]
        if heads and len(heads) != self.count:
            raise ValueError(f"an acrostic {self.title} needs {self.count} heads, got {heads!r}")
        self.heads = heads  # an acrostic (藏头诗): line i begins with heads[i]; the first position is free of 平仄
        # 0-based positions whose tone is fixed: 二、四(、六) and the last
        self.checked = (1, 3, 5, self.length - 1) if self.length == 7 else (1, 3, self.length - 1)

    def token_budget(self) -> int:
        return (self.length + 1) * self.count  # one token per character and punctuation mark

    def initial(self) -> ChineseState:
        return ChineseState()

    def can_end(self, state: ChineseState) -> bool:
        return state.done

    def forced(self, s: ChineseState) -> str | None:
        """A full line allows its punctuation alone (the decoder then looks for it everywhere)."""
        if s.punct_due and not s.done:
            return "，" if s.line % 2 == 0 else "。"
        if self.heads and s.at_line_start and not s.done:
            return self.heads[s.line]
        return None

    def _char(self, s: ChineseState, char: str) -> ChineseState | None:
        if s.done:
            return None
        if s.punct_due:
            want = "，" if s.line % 2 == 0 else "。"
            if char != want:
                return None
            done = s.line == self.count - 1
            return replace(s, line=s.line + 1, chars=(), previous=s.chars, punct_due=False, done=done)
        if self.heads and not s.chars and char != self.heads[s.line]:
            return None
        if not HAN.fullmatch(char) or not self._tone_fits(s, char):
            return None
        if s.line in PARALLEL_LINES.get(self.count, ()):  # 颔联 and 颈联 of a 律诗 face each other
            facing = s.previous[len(s.chars)]
            if char == facing or not classes_match(facing, char):
                return None
        chars = (*s.chars, char)
        pos = len(s.chars)
        rhymes, rhyme_chars = s.rhymes, s.rhyme_chars
        first_line, patterns = s.first_line, s.patterns
        last = pos == self.length - 1
        if last and s.line == 0:
            first_line = chars
            _, rhymed, all_patterns = expected_patterns([char_tone(c) for c in chars], self.length, self.count)
            patterns = tuple(all_patterns)
            if rhymed:
                rhyme = primary_rhyme(char)
                if rhyme is None:
                    return None
                rhymes, rhyme_chars = frozenset((rhyme,)), (char,)
        elif last and s.line % 2 == 1:
            rhyme = primary_rhyme(char)
            if char in rhyme_chars or not char_tone(char).primary_ping or rhyme is None:
                return None
            if rhymes is not None and rhyme not in rhymes:
                return None
            rhymes = frozenset((rhyme,))
            rhyme_chars = (*rhyme_chars, char)
        return replace(
            s,
            chars=chars,
            first_line=first_line,
            patterns=patterns,
            rhymes=rhymes,
            rhyme_chars=rhyme_chars,
            punct_due=last,
        )

    def _tone_fits(self, s: ChineseState, char: str) -> bool:
        pos = len(s.chars)
        if pos not in self.checked:
            return True
        ping = char_tone(char).primary_ping
        if s.patterns:
            return ping == (s.patterns[s.line][pos] == "P")
        # line 1, pattern not yet known: the second character and the last are free (they choose
        # the pattern); the others must be opposite to the second character's reading
        if pos == 1 or pos == self.length - 1:
            return True
        second_ping = char_tone(s.chars[1]).primary_ping
        # in the five-character core, 二 and 四 alternate; in 七言 二、四、六 alternate too
        return ping == (not second_ping if pos == 3 else second_ping)


@dataclass(frozen=True)
class LyricState:
    line: int = 0
    chars: int = 0
    punct_due: bool = False
    keys: tuple[tuple[str, str], ...] = ()  # rhyme letter -> 中华新韵 rhyme, set by its first line
    ends: tuple[str, ...] = ()  # line-final characters so far (a rhyme is not repeated)
    done: bool = False

    @property
    def at_line_start(self) -> bool:
        return self.chars == 0 and not self.punct_due


class ChineseLyricsConstraint(CharacterConstraint):
    """Chinese song lyrics: each line its number of Han characters, then "，" (or "。" at the end of
    a section); lines sharing a rhyme letter end on one 中华新韵 rhyme (most common reading), with
    no rhyme character used twice. Tones are free, as in modern song, unless `tones` says which a
    character may have (words set to a given tune: `fabula.music.setting`)."""

    def __init__(
        self,
        lines: list[tuple[int, str]],
        section_ends: set[int],
        tones: list[tuple[frozenset[int] | None, ...]] | None = None,
    ) -> None:
        if not lines:
            raise ValueError("no lines to constrain")
        self.lines = lines  # (characters, rhyme letter) per line
        self.section_ends = section_ends  # indexes of lines that close a section
        self.tones = tones  # per line, per character: the Mandarin tones it may have (None: any)

    def token_budget(self) -> int:
        return sum(n + 1 for n, _ in self.lines)

    def initial(self) -> LyricState:
        return LyricState()

    def can_end(self, state: LyricState) -> bool:
        return state.done

    def forced(self, s: LyricState) -> str | None:
        if s.punct_due and not s.done:
            return "。" if s.line in self.section_ends else "，"
        return None

    def _char(self, s: LyricState, char: str) -> LyricState | None:
        if s.done:
            return None
        length, letter = self.lines[s.line]
        if s.punct_due:
            if char != ("。" if s.line in self.section_ends else "，"):
                return None
            done = s.line == len(self.lines) - 1
            return replace(s, line=s.line + 1, chars=0, punct_due=False, done=done)
        if not HAN.fullmatch(char):
            return None
        allowed = self.tones[s.line][s.chars] if self.tones else None
        if allowed is not None and primary_tone(char) not in allowed:
            return None
        if s.chars + 1 < length:
            return replace(s, chars=s.chars + 1)
        # the line's last character: keep the rhyme of its letter
        keys = dict(s.keys)
        rhyme = primary_rhyme(char)
        shares_letter = sum(1 for _, other in self.lines if other == letter) > 1
        if shares_letter:
            if rhyme is None or char in s.ends or (letter in keys and keys[letter] != rhyme):
                return None
            keys.setdefault(letter, rhyme)
        return replace(s, chars=length, punct_due=True, keys=tuple(keys.items()), ends=(*s.ends, char))


@dataclass(frozen=True)
class CiState:
    clause: int = 0
    chars: tuple[str, ...] = ()  # characters of the current clause
    written: tuple[str, ...] = ()  # every finished clause, for a repeated one (叠句)
    punct_due: bool = False
    keys: tuple[tuple[str, str], ...] = ()  # rhyme letter -> 中华新韵 rhyme, set by its first end
    ends: tuple[str, ...] = ()  # rhyme characters used so far (not used twice, outside a repeat)
    done: bool = False

    @property
    def at_line_start(self) -> bool:
        return not self.chars and not self.punct_due


class CiConstraint(CharacterConstraint):
    """A ci (词) to its tune's most common shape (`fabula.verse.cipai`): each clause its number of
    Han characters and its punctuation; 平 and 仄 where the tune fixes them, by the most common
    reading, as for regulated verse; clause ends of one rhyme letter on one 中华新韵 rhyme, no
    rhyme character used twice; a repeated clause (叠句) written again character for character."""

    def __init__(self, name: str) -> None:
        from fabula.verse.cipai import cipai

        self.tune = cipai(name)
        self.clauses = self.tune.shapes[0].clauses

    def token_budget(self) -> int:
        return sum(c.length + 1 for c in self.clauses)

    def initial(self) -> CiState:
        return CiState()

    def can_end(self, state: CiState) -> bool:
        return state.done

    def forced(self, s: CiState) -> str | None:
        if s.done:
            return None
        rule = self.clauses[s.clause]
        if s.punct_due:
            return rule.punct
        if rule.repeats is not None:
            return s.written[rule.repeats][len(s.chars)]
        return None

    def _char(self, s: CiState, char: str) -> CiState | None:
        if s.done:
            return None
        rule = self.clauses[s.clause]
        if s.punct_due:
            if char != rule.punct:
                return None
            done = s.clause == len(self.clauses) - 1
            written = (*s.written, "".join(s.chars))
            return replace(s, clause=s.clause + 1, chars=(), written=written, punct_due=False, done=done)
        if rule.repeats is not None:
            if char != s.written[rule.repeats][len(s.chars)]:
                return None
            chars = (*s.chars, char)
            return replace(s, chars=chars, punct_due=len(chars) == rule.length)
        if not HAN.fullmatch(char):
            return None
        pos = len(s.chars)
        want = rule.tones[pos]
        if want != "*" and char_tone(char).primary_ping != (want == "P"):
            return None
        chars = (*s.chars, char)
        last = pos == rule.length - 1
        keys, ends = s.keys, s.ends
        if last and rule.rhyme:
            rhyme = primary_rhyme(char)
            known = dict(keys)
            if rhyme is None or char in ends or known.get(rule.rhyme, rhyme) != rhyme:
                return None
            known.setdefault(rule.rhyme, rhyme)
            keys, ends = tuple(known.items()), (*ends, char)
        return replace(s, chars=chars, punct_due=last, keys=keys, ends=ends)
