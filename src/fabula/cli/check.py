"""`fabula check poem FILE --form F`: validate a poem written by anyone, fabula or not.

Exit code 0 when the poem keeps its form, 1 when it does not (like a linter), 2 on bad input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

VERSE_FORMS = ("haiku", "limerick", "quatrain", "sonnet", "free")


@click.group()
def check() -> None:
    """Validate texts against their form."""


@check.command("poem")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--form", "form_name", type=click.Choice(VERSE_FORMS), required=True)
@click.option(
    "--scheme",
    type=click.Choice(["ABAB", "AABB"]),
    default="ABAB",
    show_default=True,
    help="Rhyme scheme of a quatrain.",
)
@click.option("--json", "as_json", is_flag=True)
def check_poem_command(file: Path, form_name: str, scheme: str, as_json: bool) -> None:
    """Syllables per line, rhyme scheme, stress, and every violation of the form."""
    from fabula.verse.check import check_poem
    from fabula.verse.forms import verse_form

    text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    report = check_poem(text, verse_form(form_name, scheme if form_name == "quatrain" else None))
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table("#", "line", "syllables", "end", "rhyme key", "stress")
        for i, line in enumerate(report["lines"], start=1):
            estimated = "*" if line["estimated_words"] else ""
            table.add_row(
                str(i),
                line["text"],
                f"{line['syllables']}{estimated}",
                line["end_word"],
                line["rhyme_key"] or "?",
                line["stress"],
            )
        console = Console()
        console.print(table)
        console.print(f"rhyme scheme {report['rhyme_scheme']} (expected {report['expected_scheme']})")
        for violation in report["violations"]:
            console.print(f"[red]✗[/red] {violation}")
        console.print("[green]keeps the form[/green]" if report["ok"] else "[red]breaks the form[/red]")
    sys.exit(0 if report["ok"] else 1)
