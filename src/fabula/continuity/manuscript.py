"""A manuscript as units (chapters or scenes) of numbered sentences, the places facts cite.

Chapters are found by Markdown headings: the shallowest heading level that occurs more than once
(a book's `# Title` over its `## Chapter` headings is the title, not a chapter); a plain text file
may mark chapters with lines such as "Chapter 3" or "CHAPTER III". Text before the first chapter
is a preamble, not a chapter. A file without headings is one chapter.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
CHAPTER_LINE = re.compile(r"^\s*(?:chapter|CHAPTER|Chapter)\s+([0-9]+|[IVXLCivxlc]+)\b.{0,80}$")
# a sentence ends at . ! ? or … and any closing quotes or brackets, before white space
SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s|$)")
ABBREVIATIONS = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|St|Capt|Col|Gen|Prof|Sr|Jr|Mt)\.$")


@dataclass(frozen=True)
class Unit:
    number: int  # 1-based, the order in the work
    heading: str
    sentences: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


def sentences(text: str) -> tuple[str, ...]:
    """The sentences of a passage, white space normalised; a paragraph break always ends one."""
    out: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        flat = " ".join(paragraph.split())
        start = 0
        for end in SENTENCE_END.finditer(flat):
            piece = flat[start : end.end()]
            if ABBREVIATIONS.search(piece):  # "Mr." does not end a sentence
                continue
            if piece.strip():
                out.append(piece.strip())
            start = end.end()
        if flat[start:].strip():
            out.append(flat[start:].strip())
    return tuple(out)


def _chapter_level(lines: list[str]) -> int | None:
    levels = Counter(len(m.group(1)) for line in lines if (m := HEADING.match(line)))
    if not levels:
        return None
    repeated = [level for level, count in levels.items() if count > 1]
    return min(repeated) if repeated else min(levels)


def split_units(text: str) -> list[Unit]:
    """The chapters of a Markdown or plain-text manuscript, in order (see the module docstring)."""
    lines = text.splitlines()
    level = _chapter_level(lines)
    units: list[tuple[str, list[str]]] = []
    current: list[str] | None = None
    for line in lines:
        heading = HEADING.match(line)
        if heading and level is not None and len(heading.group(1)) == level:
            current = []
            units.append((heading.group(2), current))
        elif heading and level is not None and len(heading.group(1)) < level:
            current = None  # a title above the chapters: what follows it is preamble
        elif level is None and CHAPTER_LINE.match(line):
            current = []
            units.append((line.strip(), current))
        elif current is not None:
            current.append(line)
    if not units:
        units = [("Chapter 1", lines)]
    return [Unit(i + 1, heading, sentences("\n".join(body))) for i, (heading, body) in enumerate(units)]


def units_from_texts(texts: list[str], headings: list[str] | None = None) -> list[Unit]:
    """Units from texts already split (a plan's chapters or scenes)."""
    names = headings or [f"Chapter {i + 1}" for i in range(len(texts))]
    return [Unit(i + 1, names[i], sentences(t)) for i, t in enumerate(texts)]
