"""The story bible: characters, places, facts and style notes that every prompt of a plan may need.

Like NovelAI's lorebook and SillyTavern's World Info, an entry is injected when the text a step
is about mentions one of its keywords; like Sudowrite's Story Bible, style notes always apply.
Beyond keywords, entries are ranked by embedding relevance (all-MiniLM-L6-v2, shipped as a
package) so a fact about "the lantern" reaches a scene about "the light" too. Everything goes in
under a token budget, most important first, and each step records which entries it got and why.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fabula.errors import InvalidParam

KINDS = ("character", "place", "fact", "style")
DEFAULT_BUDGET = 160  # tokens of bible context per prompt: a small model's context is short
MIN_SIMILARITY = 0.25  # below this an entry is unrelated (MiniLM cosine)


@dataclass(frozen=True)
class Entry:
    kind: str
    name: str
    text: str
    keywords: tuple[str, ...] = field(default=())
    source: str = "user"  # "user" (added by hand) or "plan" (from the plan's characters and places)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidParam("kind", self.kind, f"a bible entry is one of: {', '.join(KINDS)}")
        if not self.name.strip() or not self.text.strip():
            raise InvalidParam("entry", self.name, "a bible entry needs a name and a text")

    @property
    def triggers(self) -> tuple[str, ...]:
        return (self.name, *self.keywords)

    def line(self) -> str:
        return f"- {self.name} ({self.kind}): {self.text}"


def estimate_tokens(text: str) -> int:
    """About four characters a token in English (BPE); used only to fit the budget."""
    return max(1, len(text) // 4)


def keyword_hit(entry: Entry, text: str) -> str | None:
    for word in entry.triggers:
        if word and re.search(rf"\b{re.escape(word)}\b", text, flags=re.IGNORECASE):
            return word
    return None


def similarities(query: str, texts: Sequence[str]) -> list[float] | None:
    """Cosine similarity of each text to the query, or None without the embedding model."""
    from fabula.embeddings import embedder

    model = embedder()
    if model is None or not texts:
        return None
    vectors = model.encode([query, *texts], normalize_embeddings=True, show_progress_bar=False)
    return [float(vectors[0] @ v) for v in vectors[1:]]


def select(entries: Sequence[Entry], about: str, budget: int = DEFAULT_BUDGET) -> tuple[str, list[dict[str, Any]]]:
    """The bible context for a prompt about `about`, and a record of what went in and why.

    Order of importance: style notes, then entries whose name or keyword appears in `about`, then
    the rest by embedding relevance above MIN_SIMILARITY. An entry that does not fit the budget
    is skipped (and recorded as skipped), never cut mid-text.
    """
    ranked: list[tuple[Entry, str]] = [(e, "style note") for e in entries if e.kind == "style"]
    rest = []
    for entry in entries:
        if entry.kind == "style":
            continue
        word = keyword_hit(entry, about)
        if word is not None:
            ranked.append((entry, f"keyword {word!r}"))
        else:
            rest.append(entry)
    sims = similarities(about, [f"{e.name}: {e.text}" for e in rest]) if rest else []
    if sims is None:
        skipped_reason = "embedding model not installed (pip install 'fabula[embed]')"
    else:
        skipped_reason = ""
        scored = sorted(zip(sims, range(len(rest)), strict=True), reverse=True)
        ranked += [(rest[i], f"embedding {s:.2f}") for s, i in scored if s >= MIN_SIMILARITY]
    lines, record, used = [], [], 0
    for entry, why in ranked:
        cost = estimate_tokens(entry.line())
        if used + cost > budget:
            record.append(
                {"name": entry.name, "kind": entry.kind, "why": why, "injected": False, "reason": "over budget"}
            )
            continue
        used += cost
        lines.append(entry.line())
        record.append({"name": entry.name, "kind": entry.kind, "why": why, "injected": True})
    if skipped_reason:
        record.append({"name": "(embedding relevance)", "injected": False, "reason": skipped_reason})
    context = "Story bible:\n" + "\n".join(lines) + "\n" if lines else ""
    return context, record
