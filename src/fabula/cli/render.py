"""How the CLI shows a finished work: the streamed text, the candidates table, the report lines.

Rendering only: nothing here generates, saves or decides anything.
"""

from __future__ import annotations

import sys
from typing import Any

import click


def notice(message: str = "") -> None:
    """A line for the person at the terminal (what happened, where a file went), on stderr;
    silent after `fabula -q`, which leaves stderr to errors alone."""
    from fabula.log import quiet

    if not quiet():
        click.echo(message, err=True)


def indexing_notice(source: str) -> None:
    notice(f"indexing reference corpus {source} for originality checks (once)…")


def streamer(n: int) -> Any:
    """Stream candidate text live when n=1; with several candidates show which one is running."""
    state = {"current": -1}

    def on_text(index: int, delta: str) -> None:
        if n == 1:
            sys.stdout.write(delta)
            sys.stdout.flush()
        elif index != state["current"]:
            state["current"] = index
            notice(f"  candidate {index + 1}/{n}…")

    return on_text


def explain_choice(work: Any) -> None:
    """A table of the candidates (scores, failed checks) on stderr, the winner marked, and why."""
    from rich.console import Console
    from rich.table import Table

    post = work.provenance["post"]
    table = Table(
        "",
        "#",
        "rank score",
        "mean logprob",
        "perplexity",
        "distinct-2",
        "repeat-4",
        "words",
        "failed checks",
        "opening",
        title="candidates",
    )
    for i, cand in enumerate(work.candidates):
        sc = cand.scores
        failed = ", ".join(v["check"] for v in cand.verdicts if not v["passed"] and v["severity"] != "info") or "-"
        table.add_row(
            "★" if cand.chosen else "",
            str(i + 1),
            str(sc["rank_score"]),
            str(sc["mean_logprob"]),
            str(sc["perplexity"]),
            str(sc["distinct_2"]),
            str(sc["repetition_4"]),
            str(sc["words"]),
            failed,
            cand.text[:40].replace("\n", " / "),
        )
    console = Console(stderr=True)
    console.print(table)
    console.print(f"why: {post['why']}")


def report(work: Any, export_path: Any, db_url: str, summary: str) -> None:
    post = work.provenance["post"]
    timing = work.provenance["timing"]
    if len(work.candidates) > 1:
        notice(f"chose candidate {post['chosen_index'] + 1} of {len(work.candidates)}: {post['why']}")
    notice(
        f"saved work {work.id} → {export_path}  (database {db_url}); "
        f"{timing['completion_tokens']} tokens in {timing['seconds']} s, {timing['tokens_per_second']} tok/s"
    )
    chosen = work.candidates[post["chosen_index"]]
    for note in (v for v in chosen.verdicts if v["severity"] == "info"):
        notice(f"cleaned: {note['detail']}")
    notice(f"provenance: {summary}")
    notice(f"originality: {originality_line(work.provenance.get('originality'))}")


def originality_line(report: dict[str, Any] | None) -> str:
    """One line: the score, the longest verbatim span, flags, and what was checked against."""
    if not report:
        return "not checked"
    if not report["sources"]:
        fixes = sorted({m["fix"] for m in report["missing_sources"]})
        return "no reference corpus installed (" + "; ".join(fixes) + ")"
    flags = f"{len(report['flagged_spans'])} flagged span(s)" if report["flagged"] else "nothing flagged"
    names = ", ".join(s["name"] for s in report["sources"])
    return (
        f"score {report['score']:.2f}, longest verbatim span {report['longest_span_tokens']} tokens, "
        f"{flags} (against {names})"
    )
