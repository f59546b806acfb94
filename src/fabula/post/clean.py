"""Cleaners: remove what the engine leaked around the text (special tokens, role headers, an echo
of the prompt, a sentence cut off by the token limit), reporting each change as a verdict."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# Chat-template control tokens of the common families (ChatML, Llama, Gemma, Mistral, GPT-2).
SPECIAL_TOKEN = re.compile(r"<\|[a-zA-Z0-9_]{1,40}\|>|</?s>|\[/?INST\]|<<\/?SYS>>|<(?:start|end)_of_turn>|<pad>|<unk>")
# A turn ends at these; anything after them is a new (hallucinated) turn, not the work.
END_OF_TURN = re.compile(r"<\|im_end\|>|<\|eot_id\|>|<\|endoftext\|>|<\|im_start\|>|</s>|<end_of_turn>|\[INST\]")
ROLE_HEADER = re.compile(r"\A\s*(?:assistant|Assistant|ASSISTANT)\s*[:\n]\s*")
PREAMBLE = re.compile(
    r"\A\s*(?:Sure|Certainly|Of course|Here(?: is|'s)|Absolutely)\b[^\n]{0,120}?[:!.]\s*\n+",
    re.IGNORECASE,
)
TITLE_LINE = re.compile(r"\A\s*(?:#+\s*|\*\*|Title:\s*)[^\n]{1,80}\n+")
SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s|$)")


@dataclass(frozen=True)
class Cleaned:
    text: str
    verdicts: list[dict[str, Any]]


def _note(check: str, detail: str) -> dict[str, Any]:
    return {"check": check, "passed": True, "detail": detail, "severity": "info"}


def _drop_repeated_lines(text: str) -> str:
    """Drop a non-empty line identical to an earlier one (a loop), keeping its first occurrence."""
    seen: set[str] = set()
    kept = []
    for line in text.splitlines():
        key = line.strip().lower()
        if key and len(key) > 3 and key in seen:
            continue
        seen.add(key)
        kept.append(line)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept))


def clean(
    raw: str, *, prompt: str = "", truncated: bool = False, drop_title: bool = True, constrained: bool = False
) -> Cleaned:
    """Return the cleaned text and one verdict per cleaning step that changed something.

    Constrained text was built token by token inside its form, so only whitespace is normalised:
    a first line that starts "Here is..." is verse, not a preamble.
    """
    if constrained:
        text = "\n".join(line.rstrip() for line in raw.strip().splitlines())
        return Cleaned(re.sub(r"\n{3,}", "\n\n", text), [])
    notes: list[dict[str, Any]] = []
    text = raw
    end = END_OF_TURN.search(text.lstrip()[1:])  # a leading token may open the turn itself
    if end is not None:
        cut = len(text) - len(text.lstrip()) + 1 + end.start()
        if text[cut:].strip(" \n" + end.group()):
            notes.append(_note("end_of_turn", f"cut a new turn after {end.group()}: {text[cut:][:60]!r}"))
        text = text[:cut]
    stripped = SPECIAL_TOKEN.sub("", text)
    if stripped != text:
        notes.append(_note("special_tokens", f"removed {len(SPECIAL_TOKEN.findall(text))} control tokens"))
        text = stripped
    without_role = ROLE_HEADER.sub("", text, count=1)
    if without_role != text:
        notes.append(_note("role_header", "removed a leaked role header"))
        text = without_role
    if prompt and len(prompt) > 12 and text.lstrip().startswith(prompt.strip()):
        text = text.lstrip()[len(prompt.strip()) :]
        notes.append(_note("prompt_echo", "removed an echo of the prompt"))
    without_preamble = PREAMBLE.sub("", text, count=1)
    if without_preamble != text:
        notes.append(_note("preamble", f"removed preamble {text[: len(text) - len(without_preamble)].strip()!r}"))
        text = without_preamble
    if drop_title:
        without_title = TITLE_LINE.sub("", text, count=1)
        if without_title != text and len(without_title.split()) > 20:
            notes.append(_note("title", f"removed title line {text[: len(text) - len(without_title)].strip()!r}"))
            text = without_title
    text = "\n".join(line.rstrip() for line in text.strip().splitlines())
    text = re.sub(r"\n{3,}", "\n\n", text)
    deduplicated = _drop_repeated_lines(text)
    if deduplicated != text:
        notes.append(
            _note("duplicate_lines", f"removed {text.count(chr(10)) - deduplicated.count(chr(10))} repeated lines")
        )
        text = deduplicated
    if truncated:
        ends = list(SENTENCE_END.finditer(text))
        if ends and ends[-1].end() < len(text):
            tail = text[ends[-1].end() :].strip()
            text = text[: ends[-1].end()]
            notes.append(_note("truncated_tail", f"dropped an unfinished sentence cut by max_tokens: {tail[:60]!r}"))
    return Cleaned(text, notes)
