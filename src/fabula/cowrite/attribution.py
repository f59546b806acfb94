"""Who wrote each character of a document: the writer, or a model generation named by its node.

A document's attribution is a list of runs, (author, length), covering its text exactly and in
order; neighbouring runs of one author are merged, so the list stays as short as the number of
hand-overs. Every change to a document is a splice (replace `[start, end)` by new text of one
author), and so is every change to its runs:

- a verb's chosen candidate replaces its selection: the new characters are the model's, by the
  node that applied them; the characters outside the selection keep their authors untouched;
- a hand edit arrives as the whole new text (an editor saves the document, not keystrokes). It is
  compared with the old text (difflib's matching blocks, on characters): what both share keeps its
  author, what is inserted or replaced is the writer's. Typing inside generated text therefore
  splits the model's run around the writer's characters, and deleting across both removes exactly
  the deleted characters from each.

Shares are counted in characters (Python code points), the unit a contest's AI-use disclosure can
check against the text itself. `model_chars + human_chars == len(text)` always holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from difflib import SequenceMatcher

from fabula.errors import InvalidParam

HUMAN = "human"
Run = tuple[str, int]  # (author: "human" or "model:<node id>", characters)


def normalize(runs: Iterable[Run]) -> list[Run]:
    """Drop empty runs and merge neighbours by the same author."""
    out: list[Run] = []
    for author, length in runs:
        if length <= 0:
            continue
        if out and out[-1][0] == author:
            out[-1] = (author, out[-1][1] + length)
        else:
            out.append((author, length))
    return out


def total(runs: Sequence[Run]) -> int:
    return sum(length for _, length in runs)


def cut(runs: Sequence[Run], start: int, end: int) -> list[Run]:
    """The runs covering characters `[start, end)`."""
    out: list[Run] = []
    position = 0
    for author, length in runs:
        lo, hi = max(start, position), min(end, position + length)
        if lo < hi:
            out.append((author, hi - lo))
        position += length
    return out


def splice(runs: Sequence[Run], start: int, end: int, length: int, author: str) -> list[Run]:
    """The runs after `[start, end)` is replaced by `length` characters written by `author`."""
    size = total(runs)
    if not 0 <= start <= end <= size:
        raise InvalidParam("selection", f"{start}..{end}", f"must lie within the document's {size} characters")
    return normalize([*cut(runs, 0, start), (author, length), *cut(runs, end, size)])


def edited(runs: Sequence[Run], old: str, new: str, author: str = HUMAN) -> list[Run]:
    """The runs after a hand edit turned `old` into `new`: shared characters keep their authors,
    inserted ones are `author`'s."""
    if total(runs) != len(old):
        raise ValueError(f"attribution covers {total(runs)} characters, the text has {len(old)}")
    out: list[Run] = []
    matcher = SequenceMatcher(None, old, new, autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            out += cut(runs, a0, a1)
        elif b1 > b0:  # insert or replace: the new characters are the editor's
            out.append((author, b1 - b0))
    return normalize(out)


def shares(runs: Sequence[Run]) -> dict[str, int]:
    """{"human_chars", "model_chars"} of a document."""
    human = sum(length for author, length in runs if author == HUMAN)
    return {"human_chars": human, "model_chars": total(runs) - human}


def spans(runs: Sequence[Run]) -> list[dict[str, int | str]]:
    """The runs as character spans, for a studio to colour and a manifest to list."""
    out: list[dict[str, int | str]] = []
    position = 0
    for author, length in runs:
        out.append({"author": author, "start": position, "end": position + length})
        position += length
    return out
