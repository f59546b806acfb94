"""`fabula check poem FILE --form F`: validate a poem written by anyone, fabula or not.

Exit code 0 when the poem keeps its form, 1 when it does not (like a linter), 2 on bad input.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

VERSE_FORMS = (
    *("haiku", "limerick", "quatrain", "sonnet", "free"),
    *("wujue", "qijue", "wulv", "qilv", "ci", "acrostic", "couplet"),
)


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
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="What the form needs: cipai=如梦令 (ci), head=春风得意 and shape=qijue (acrostic), first=LINE (couplet).",
)
@click.option("--json", "as_json", is_flag=True)
def check_poem_command(file: Path, form_name: str, scheme: str, sets: tuple[str, ...], as_json: bool) -> None:
    """Syllables per line, rhyme scheme, stress, and every violation of the form."""
    from fabula.cli.write import parse_sets
    from fabula.verse.check import check_verse
    from fabula.verse.kinds import NEW_FORMS, verse_kind

    text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    options = parse_sets(sets)
    report = check_verse(text, form_name, scheme, **options)
    kind = verse_kind({"form": form_name, **options})
    if kind is not None and (kind.chinese or form_name in NEW_FORMS):
        _print_report(report, as_json)
        return
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


@check.command("lyrics")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--structure", default="VCVCBC", show_default=True, help="V verse, C chorus, B bridge, P pre-chorus.")
@click.option("--verse", default="4x8:ABAB", show_default=True, help="LINESxSYLLABLES:SCHEME")
@click.option("--chorus", default="4x6:AABB", show_default=True)
@click.option("--bridge", default="2x8:AA", show_default=True)
@click.option("--prechorus", default="2x6:AA", show_default=True)
@click.option(
    "--melody",
    "tune_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The melody (MIDI or ABC) the words are sung to: a line per phrase, a syllable per note, stress on "
    "strong beats (Chinese: tones following the pitch). The section options are then not used.",
)
@click.option("--scheme", help="With --melody: rhyme letters per phrase with words of its own, e.g. AABB.")
@click.option("--json", "as_json", is_flag=True)
def check_lyrics_command(
    file: Path,
    structure: str,
    verse: str,
    chorus: str,
    bridge: str,
    prechorus: str,
    tune_path: Path | None,
    scheme: str | None,
    as_json: bool,
) -> None:
    """Sections, lines, syllables and rhymes of a song; the chorus must repeat verbatim."""
    from fabula.verse.lyrics import check_lyrics, song_sections

    text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    if tune_path is not None:
        from fabula.music.setting import check_setting
        from fabula.music.tune import read_tune
        from fabula.verse.chinese import HAN

        language = "zh" if HAN.search(text) else "en"
        _print_report(check_setting(text, read_tune(tune_path, scheme), language), as_json)
        return
    sections = song_sections(structure, {"V": verse, "C": chorus, "B": bridge, "P": prechorus})
    report = check_lyrics(text, sections)
    _print_report(report, as_json)


@check.command("melody")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--lyrics",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The song text, to compare syllable counts.",
)
@click.option("--json", "as_json", is_flag=True)
def check_melody_command(file: Path, lyrics: Path | None, as_json: bool) -> None:
    """A MIDI melody: one lyric event per note and per syllable, stressed syllables on strong beats."""
    from fabula.music.check import check_melody

    report = check_melody(file, lyrics.read_text(encoding="utf-8") if lyrics else None)
    _print_report(report, as_json)


def _print_report(report: dict, as_json: bool) -> None:  # type: ignore[type-arg]
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
    else:
        for violation in report["violations"]:
            click.echo(f"✗ {violation}")
        click.echo("ok" if report["ok"] else "breaks its form")
    sys.exit(0 if report["ok"] else 1)
