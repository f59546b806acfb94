"""The story so far: what the next unit is told of the units before it, nearest first.

After each chapter or scene a short summary is written (its own engine call, recorded in the
plan's provenance). The next unit's prompt gets, under a token budget and in this order of
priority: the last passage of the previous unit (so the prose runs on from where it stopped),
the summaries of the two units before it, and a digest of the older summaries, oldest cut first.
The order in the prompt is the story's order, oldest first, so the model reads it as a recap.
A screenplay scene gets the summaries only: a scene starts fresh, and given the last lines of the
one before, a small model's dialogue repeated them.
"""

from __future__ import annotations

from dataclasses import dataclass

from fabula.plan.bible import estimate_tokens

DEFAULT_BUDGET = 260  # tokens: about 200 words of recap, a third of a small model's chapter
VERB_BUDGET = 160  # tokens: a co-writing verb's prompt also carries the text around the selection
RECENT = 2  # units summarised in full; older ones go into the digest
PASSAGE_WORDS = 60


@dataclass(frozen=True)
class SoFar:
    text: str  # the block for the prompt, "" for the first unit
    units: tuple[int, ...]  # 1-based units whose summary went in
    passage_from: int | None  # the unit the last passage came from
    tokens: int


def last_passage(text: str, words: int = PASSAGE_WORDS) -> str:
    """The last `words` words of a unit, starting at a sentence where one starts in range."""
    w = text.split()
    if len(w) <= words:
        return " ".join(w)
    tail = w[-words:]
    for i in range(1, len(tail) - 8):  # start at a sentence, keeping at least eight words
        if tail[i - 1][-1:] in '.!?"”':
            return " ".join(tail[i:])
    return "… " + " ".join(tail)


def story_so_far(
    summaries: list[str], previous: str | None, budget: int = DEFAULT_BUDGET, label: str = "Chapter"
) -> SoFar:
    """The recap for the unit after `summaries` (one per earlier unit, in order); `previous` is
    the text of the unit just before, for its last passage."""
    if not summaries and not previous:
        return SoFar("", (), None, 0)
    left = budget
    passage = last_passage(previous) if previous else ""
    if estimate_tokens(passage) > left:
        passage = ""
    left -= estimate_tokens(passage)
    chosen: dict[int, str] = {}
    for number in range(len(summaries), 0, -1):  # nearest first
        line = f"{label} {number}: {summaries[number - 1]}"
        cost = estimate_tokens(line)
        if cost > left:
            break
        chosen[number] = line
        left -= cost
    recent = [chosen[n] for n in sorted(chosen) if n > len(summaries) - RECENT]
    older = [chosen[n] for n in sorted(chosen) if n <= len(summaries) - RECENT]
    parts = []
    if older:
        parts.append("Earlier: " + " ".join(line.split(": ", 1)[1] for line in older))
    parts += recent
    if passage:
        parts.append(f'The previous {label.lower()} ended: "{passage}"')
    text = "Story so far:\n" + "\n".join(parts) + "\n" if parts else ""
    return SoFar(text, tuple(sorted(chosen)), len(summaries) if passage else None, budget - left)


def extractive_summary(text: str, words: int = 40) -> str:
    """A summary when the engine gives no usable one: the first and last sentences, cut to size."""
    from fabula.continuity.manuscript import sentences

    said = sentences(text)
    if not said:
        return ""
    picked = [said[0]] if len(said) == 1 else [said[0], said[-1]]
    w = " ".join(picked).split()
    return " ".join(w[:words]) + (" …" if len(w) > words else "")
