"""Leaks: parts of the prompt or the template that reached the work, which a reader rejects on sight.

A small model copies what it was shown. The kinds found in the embedded model's own outputs:

- `instruction_echo`: the task said back ("Here is a blank piece of text, fill:", "Here's the
  poem: five lines", "Second line of the verse");
- `label`: a prompt or template field name opening a line ("Verb: In the morning light",
  "Rhyme: No.", "A: I've been making my way down", "Bridge: ..."), or a role name ("Assistant:");
- `template_field`: a placeholder never filled (`{narc_message}`, `{{user}}`, `[NAME]`);
- `bible_label`: a story-bible kind copied after a name ("the radio (fact)", "Lina (character)");
- `meta_narration`: the text talking about itself ("The next sentence begins with Mara", "This
  poem is about", "As an AI");
- `id_in_name`: a name run into digits ("Namara21358479006545").

A label or a bible kind is cut out where the text is free prose (`repair`): what it labels is the
work. The rest cannot be mended by deletion, so they fail the `no_leak` check (an error): the
pipeline samples the candidate again within its bounded retries, and the verdict says which leak
it found. Text built inside a verse constraint is never cut (a deletion would break its metre):
any leak there fails.

The patterns are tuned on a labelled fixture (`tests/fixtures/leaks.toml`): every example of each
kind above is caught, and none of the clean texts (real outputs of every form, screenplay
transitions, song section headers, dialogue) is flagged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# Words a prompt or a template names its parts with; a line that opens "Word:" copies the template.
# Title case or lower case only: Fountain's transitions ("CUT TO:") are upper case by rule.
_LABEL_WORDS = (
    r"verb|noun|adjective|adverb|rhymes?|rhyme scheme|syllables?|met(?:er|re)|"
    r"(?:first|second|third|fourth|fifth|last|next) line|line \d{1,2}|"
    r"verse(?: \d)?|chorus|pre-chorus|bridge|refrain|hook|intro|outro|stanza(?: \d)?|"
    r"instructions?|prompt|task|answer|output|input|response|example|"
    r"assistant|user|system|human|ai|q|a|note|notes|description|summary|logline|beat|"
    r"keywords?|word count|text|lyrics|poem|story|scene|setting|tone|style|theme"
)
LABEL = re.compile(rf"^[ \t]*(?:[-*•][ \t]*)?(?P<label>(?i:{_LABEL_WORDS}))[ \t]*:[ \t]*(?=\S)", re.MULTILINE)
# A field name run into a generated name: "Jolene — Description: ..."
DASH_LABEL = re.compile(r"[ \t]*[—–][ \t]*(?i:description|summary|role|traits?|name)[ \t]*:")
_LABEL_CASE = re.compile(r"^[A-Z]?[a-z0-9 -]*$")  # "Verb", "verb", "Line 2"; not "VERB" (a screenplay cue)

_TASK_NOUNS = (
    r"(?:poem|story|song|lyrics?|text|verse|stanza|limerick|haiku|sonnet|quatrain|chorus|scene|chapter|passage|piece)"
)
INSTRUCTION_ECHO = re.compile(
    rf"(?:\bhere(?: is|'s| are)\s+(?:a|an|the|your|my)\s+(?:\w+\s+){{0,3}}{_TASK_NOUNS}\s*[:\-–—]"
    rf"|\bfill(?: in)?\s*:"
    rf"|\b(?:the|a|an|this)\s+{_TASK_NOUNS}\s*:"
    rf"|\b(?:first|second|third|fourth|fifth|last|next)\s+line\s+of\s+the\s+{_TASK_NOUNS}\b"
    rf"|\blines?,\s+each\b"
    rf"|\bin\s+(?:the\s+)?(?:form|style)\s+of\s+an?\s+(?:limerick|haiku|sonnet|quatrain)\b)",
    re.IGNORECASE,
)
TEMPLATE_FIELD = re.compile(
    r"\{\{?\s*[A-Za-z_][A-Za-z0-9_ .]{0,30}\s*\}\}?"  # {name}, {{user}}: never JSON, which quotes its keys
    r"|\[(?:[A-Z][A-Z0-9_]*(?: [A-Z][A-Z0-9_]*){0,3})\]"  # [NAME], [INSERT NAME]
    r"|<(?i:name|character|place|insert[^>]{0,20}|your[^>]{0,20})>"
)
# Song section headers are the form's own structure ("[Chorus]", "[VERSE 1]"), never a field.
_SECTIONS = re.compile(r"^\[(?:verse|chorus|bridge|pre-chorus|intro|outro|hook|refrain)(?: \d+)?\]$", re.IGNORECASE)
BIBLE_LABEL = re.compile(r"[ \t]?\((?:character|place|fact|style)\)")
META_NARRATION = re.compile(
    rf"\b(?:the\s+)?(?:next|following|previous)\s+(?:sentence|paragraph|line|stanza|verse)\s+"
    rf"(?:begins|starts|ends|is|will|should|must)\b"
    rf"|\b(?:this|the\s+above|the\s+following)\s+{_TASK_NOUNS}\s+(?:is\s+about|describes|tells|was\s+written|will\s+(?:be|tell|describe))\b"
    rf"|\bas\s+an\s+(?:ai|language\s+model)\b"
    rf"|\bI\s+hope\s+you\s+(?:enjoy|like)(?:ed)?\s+(?:this|the|my)\s+{_TASK_NOUNS}\b"
    rf"|\b(?:word|syllable)\s+count\b",
    re.IGNORECASE,
)
ID_IN_NAME = re.compile(r"\b[A-Z][a-z]{2,}\d{3,}\w*|\b[A-Za-z]{3,}\d{5,}\w*")


@dataclass(frozen=True)
class Leak:
    """One leak: its kind, where it is (character offsets), and whether deleting it mends the text."""

    kind: str
    start: int
    end: int
    excerpt: str
    removable: bool


def _excerpt(text: str, start: int, end: int) -> str:
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line = text[line_start : line_end if line_end >= 0 else len(text)].strip()
    return line if len(line) <= 80 else line[:77] + "..."


def find_leaks(text: str) -> list[Leak]:
    """Every leak in `text`, in reading order."""
    found: list[Leak] = []

    def add(kind: str, match: re.Match[str], removable: bool, group: int | str = 0) -> None:
        found.append(Leak(kind, match.start(group), match.end(), _excerpt(text, match.start(), match.end()), removable))

    for match in LABEL.finditer(text):
        if _LABEL_CASE.match(match.group("label")):
            add("label", match, True)
    for match in DASH_LABEL.finditer(text):
        add("label", match, True)
    for match in INSTRUCTION_ECHO.finditer(text):
        add("instruction_echo", match, False)
    for match in TEMPLATE_FIELD.finditer(text):
        if not _SECTIONS.match(match.group().strip()):
            add("template_field", match, False)
    for match in BIBLE_LABEL.finditer(text):
        add("bible_label", match, True)
    for match in META_NARRATION.finditer(text):
        add("meta_narration", match, False)
    for match in ID_IN_NAME.finditer(text):
        add("id_in_name", match, False)
    return sorted(found, key=lambda leak: leak.start)


def repair(text: str, leaks: list[Leak]) -> str:
    """`text` with its removable leaks cut out (a label, a bible kind), back to front."""
    for leak in sorted((x for x in leaks if x.removable), key=lambda x: x.start, reverse=True):
        text = text[: leak.start] + text[leak.end :]
    return text


def describe(leaks: list[Leak]) -> str:
    """One line for a verdict: each leak's kind and the line it is in."""
    return "; ".join(f"{leak.kind} in {leak.excerpt!r}" for leak in leaks[:4]) + (
        f"; and {len(leaks) - 4} more" if len(leaks) > 4 else ""
    )


def check(text: str, *, constrained: bool = False) -> tuple[str, list[dict[str, Any]]]:
    """The text with removable leaks cut (free prose only), and its verdicts: `leak_repaired`
    (info) when something was cut, and `no_leak` (an error when a leak remains)."""
    from fabula.forms.base import verdict

    leaks = find_leaks(text)
    verdicts: list[dict[str, Any]] = []
    cut = [leak for leak in leaks if leak.removable] if not constrained else []
    if cut:
        text = repair(text, cut)
        verdicts.append(verdict("leak_repaired", True, f"removed {describe(cut)}", severity="info"))
        leaks = find_leaks(text)
    detail = describe(leaks) if leaks else "no prompt or template text in the work"
    verdicts.append(verdict("no_leak", not leaks, detail))
    return text, verdicts


def first_leak(text: str) -> str | None:
    """A sentence naming the first leak that deletion cannot mend (what a resample is for), or None."""
    lasting = [leak for leak in find_leaks(text) if not leak.removable]
    return describe(lasting[:1]) if lasting else None
