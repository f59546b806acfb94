"""The verse constraint as a state machine over text: may this token come next?

Decoding asks `advance(state, token_text)` for each candidate token; it returns the state after
the token, or None if the token would break the form. The check works on words, not tokens: a
partial word is allowed only while some dictionary word with that prefix still fits the line's
remaining syllables, and the word that fills the line must rhyme as the scheme requires (the first
word of a rhyme group must come from a class with enough rhymes to continue). Lines end with a
newline exactly when their syllables are used up; one blank line between stanzas is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from fabula.decoding.constrained import CharacterConstraint
from fabula.verse.forms import VerseForm
from fabula.verse.lexicon import Lexicon

PUNCTUATION = set(',.;:!?—–"“”')
APOSTROPHES = {"'", "’"}
# Words too weak to end a line of verse (and to carry a rhyme or the last beat of a haiku line).
WEAK_ENDINGS = frozenset(
    "a an the and or but nor of to in on at for with by from as is are was were be my your his her its "
    "our their that this these those than then if so that's it's i'm i'll i've i'd you're we're they're "
    "they'd we'd you'd he's she's".split()
)


@dataclass(frozen=True)
class VerseState:
    line: int = 0
    used: int = 0  # syllables of completed words on this line
    partial: str = ""  # letters of the word being written (lowercase)
    line_full: bool = False  # syllables used up: only punctuation and the newline may follow
    blank_ok: bool = False  # a blank line may come now (just after a line ended)
    keys: tuple[tuple[str, str], ...] = ()  # rhyme letter -> rhyme key, set by each group's first line
    end_words: tuple[str, ...] = ()
    done: bool = False
    last: str = "start"  # class of the previous character: start, letter, space, punct
    punct_run: int = 0

    def key_for(self, letter: str) -> str | None:
        return dict(self.keys).get(letter)


class VerseConstraint(CharacterConstraint):
    def __init__(self, form: VerseForm, lexicon: Lexicon) -> None:
        if not form.lines or any(spec.syllables is None for spec in form.lines):
            raise ValueError(f"{form.name} has no fixed line lengths to constrain")
        self.form = form
        self.lexicon = lexicon

    def token_budget(self) -> int:
        return 40 * len(self.form.lines)

    def initial(self) -> VerseState:
        return VerseState()

    def can_end(self, state: VerseState) -> bool:
        """True when the poem is complete (end of text may come now)."""
        last = len(self.form.lines) - 1
        return state.done or (state.line == last and (state.line_full or self._word_fills(state)))

    # -- one character at a time -------------------------------------------------------------

    def _char(self, s: VerseState, char: str) -> VerseState | None:
        if s.done:
            return None
        if char.isascii() and char.isalpha() or (char in APOSTROPHES and s.partial):
            if s.line_full or s.last == "punct":
                return None
            if char.isupper() and s.partial and not s.partial[-1:] == "'" and not s.partial.isupper():
                return None  # capitals only start a word (or spell one all in capitals)
            partial = s.partial + ("'" if char in APOSTROPHES else char.lower())
            if not self._feasible(s, partial):
                return None
            return replace(s, partial=partial, blank_ok=False, last="letter", punct_run=0)
        if char == " ":
            if s.last not in ("letter", "punct"):
                return None  # lines start with a word; no double spaces
            after = self._finish_word(s)
            return replace(after, last="space", punct_run=0) if after else None
        if char in PUNCTUATION:
            if s.last not in ("letter", "punct") or s.punct_run >= 2:
                return None  # punctuation follows a word, at most two marks in a row
            after = self._finish_word(s)
            return replace(after, last="punct", punct_run=s.punct_run + 1) if after else None
        if char == "\n":
            if s.used == 0 and not s.partial and not s.line_full:
                return replace(s, blank_ok=False) if s.blank_ok else None
            s = self._finish_word(s)  # type: ignore[assignment]
            if s is None or not s.line_full:
                return None
            if s.line + 1 == len(self.form.lines):
                return replace(s, done=True)
            return VerseState(line=s.line + 1, keys=s.keys, end_words=s.end_words, blank_ok=True)
        return None  # digits, symbols, other scripts

    def _finish_word(self, s: VerseState) -> VerseState | None:
        if not s.partial:
            return s
        word = s.partial.rstrip("'")
        entry = self.lexicon.words.get(word)
        if entry is None:
            return None
        count, key = entry
        budget = self._budget(s)
        total = s.used + count
        if total > budget:
            return None
        if total < budget:
            return replace(s, used=total, partial="")
        if word in WEAK_ENDINGS:
            return None
        letter = self.form.lines[s.line].rhyme
        if letter:
            wanted = s.key_for(letter)
            if wanted is None:
                if not self.lexicon.rich.get(word, 0) >> count & 1:
                    return None
                if key in dict(s.keys).values():  # a new rhyme group must not sound like an earlier one
                    return None
                keys = (*s.keys, (letter, key))
            else:
                if key != wanted or word in s.end_words:
                    return None
                keys = s.keys
            return replace(s, used=total, partial="", line_full=True, keys=keys, end_words=(*s.end_words, word))
        return replace(s, used=total, partial="", line_full=True)

    def _word_fills(self, s: VerseState) -> bool:
        finished = self._finish_word(s) if s.partial else None
        return finished is not None and finished.line_full

    def _budget(self, s: VerseState) -> int:
        return int(self.form.lines[s.line].syllables or 0)

    def _feasible(self, s: VerseState, partial: str) -> bool:
        """Can `partial` still grow into a word that fits what is left of the line?"""
        remaining = self._budget(s) - s.used
        if remaining <= 0:
            return False
        shorter = self.lexicon.prefixes.get(partial, 0) & ((1 << remaining) - 2)
        if shorter:
            return True
        letter = self.form.lines[s.line].rhyme
        if not letter:
            return bool(self.lexicon.prefixes.get(partial, 0) >> remaining & 1)
        wanted = s.key_for(letter)
        if wanted is None:
            return bool(self.lexicon.rich.get(partial, 0) >> remaining & 1)
        table = self.lexicon.rhyme_prefixes(wanted, frozenset(s.end_words))
        return bool(table.get(partial, 0) >> remaining & 1)
