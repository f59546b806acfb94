"""Repair a poem from a black-box engine: find the lines that break the form and ask for each
again, with the line's exact requirement in the prompt, within a request budget.

A remote /v1 server gives us no per-token control, so the form cannot be kept by construction.
Instead every failing line (wrong syllable count, or an end word that does not rhyme with its
group) is regenerated on its own; a new line is kept only if it meets its requirement. What still
fails after the budget is reported, never hidden.
"""

from __future__ import annotations

from typing import Any

from fabula.backends.base import Backend
from fabula.types import Message, Request
from fabula.verse.check import check_poem, line_report, poem_lines
from fabula.verse.forms import VerseForm

DEFAULT_BUDGET = 12  # requests per poem


def _needs(lines: list[str], form: VerseForm) -> list[tuple[int, int, str | None]]:
    """(line index, syllables wanted, word to rhyme with) for each line that breaks the form."""
    reports = [line_report(line) for line in lines]
    first_of: dict[str, int] = {}
    out = []
    for i, spec in enumerate(form.lines[: len(lines)]):
        partner = None
        if spec.rhyme:
            if spec.rhyme in first_of:
                partner = reports[first_of[spec.rhyme]]["end_word"]
            else:
                first_of[spec.rhyme] = i
        syllables_ok = spec.syllables is None or reports[i]["syllables"] == spec.syllables
        rhyme_ok = partner is None or (
            reports[i]["rhyme_key"] is not None
            and reports[i]["rhyme_key"] == line_report(partner)["rhyme_key"]
            and reports[i]["end_word"].lower() != partner.lower()
        )
        if not (syllables_ok and rhyme_ok):
            out.append((i, int(spec.syllables or 0), partner))
    return out


def _line_ok(line: str, syllables: int, partner: str | None) -> bool:
    report = line_report(line)
    if syllables and report["syllables"] != syllables:
        return False
    if partner is None:
        return True
    key = line_report(partner)["rhyme_key"]
    return key is not None and report["rhyme_key"] == key and report["end_word"].lower() != partner.lower()


def repair_poem(
    backend: Backend, base: Request, form: VerseForm, text: str, budget: int = DEFAULT_BUDGET
) -> tuple[str, dict[str, Any]]:
    lines = poem_lines(text)[: len(form.lines)]
    requests, repaired = 0, []
    seed = base.params.seed or 0
    for _round in range(3):
        needs = _needs(lines, form)
        if not needs or requests >= budget:
            break
        for index, syllables, partner in needs:
            if requests >= budget:
                break
            ask = f"Rewrite line {index + 1} so that it has exactly {syllables} syllables"
            ask += f" and its last word rhymes with '{partner}'" if partner else ""
            poem = "\n".join(lines)
            request = Request(
                (
                    Message("system", "You are a poet who revises single lines. Answer with the new line only."),
                    Message("user", f"Poem:\n{poem}\n\n{ask}. Keep its meaning."),
                ),
                f"Poem:\n{poem}\n\n{ask}:\n",
                base.params.with_(n=1, max_tokens=40, stop=("\n",), seed=(seed + 1000 + requests) % (2**32 - 1)),
            )
            requests += 1
            candidate = backend.complete(request)[0].text.strip().strip('"')
            if candidate and _line_ok(candidate, syllables, partner):
                lines[index] = candidate
                repaired.append(index + 1)
    remaining = check_poem("\n".join(lines), form)
    return "\n".join(lines), {
        "requests": requests,
        "budget": budget,
        "repaired_lines": repaired,
        "still_failing": remaining["violations"],
    }
