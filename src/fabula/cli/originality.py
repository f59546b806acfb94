"""`fabula originality FILE_OR_WORK` and `fabula reference list|add|remove|build`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from fabula.cli.render import notice
from fabula.settings import get_settings


def _text_of(target: str) -> tuple[str, str]:
    """The text of a file (or - for stdin), else of a saved work by id or id prefix."""
    from fabula.errors import InvalidParam

    if target == "-":
        return sys.stdin.read(), "stdin"
    path = Path(target)
    if path.is_file():
        try:
            return path.read_text(encoding="utf-8"), str(path)
        except UnicodeDecodeError as exc:
            raise InvalidParam("FILE", target, f"is not UTF-8 text ({exc.reason})") from exc
    if len(target) >= 6 and all(c in "0123456789abcdef" for c in target):
        from fabula.store.works import WorkStore

        work = WorkStore(get_settings().db_url).get(target)
        return work["text"], f"work {work['id']}"
    raise InvalidParam("FILE_OR_WORK", target, "is neither a file nor a work id; `fabula works list` shows ids")


def _notice(source: str) -> None:
    notice(f"indexing reference corpus {source} (once)…")


@click.command("originality")
@click.argument("target", metavar="FILE_OR_WORK")
@click.option("--json", "as_json", is_flag=True, help="The whole report as one JSON object.")
def originality(target: str, as_json: bool) -> None:
    """How much of a text occurs verbatim in the reference corpora: novel n-gram shares for
    n = 5..13, the longest verbatim span and where it comes from, flagged spans, and a score
    (1 = none of its 5-grams found). Exit code 3 when something is flagged."""
    from fabula.errors import InvalidParam, Rejected
    from fabula.responsible.originality import check_text
    from fabula.responsible.review import originality_policy

    text, label = _text_of(target)
    if not text.strip():
        raise InvalidParam("FILE_OR_WORK", target, "the text is empty")
    settings = get_settings()
    report = check_text(text, settings.ensure_home(), originality_policy(settings), on_build=_notice)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
    else:
        _print_report(report, label)
    if report["flagged"]:
        raise Rejected(f"{label}: {len(report['flagged_spans'])} span(s) flagged")


def _print_report(report: dict[str, Any], label: str) -> None:
    from fabula.cli.render import originality_line

    click.echo(f"{label}: {report['tokens']} tokens; {originality_line(report)}")
    shares = "  ".join(f"{n}:{v:.0%}" for n, v in report["novel_ngram_share"].items())
    click.echo(f"novel n-grams  {shares}")
    longest = report["longest_span"]
    if longest:
        click.echo(f"longest span   {longest['tokens']} tokens from {longest['source']} ({longest['document']})")
        click.echo(f"               “{longest['text'][:200]}”")
    for span in report["flagged_spans"]:
        click.echo(
            f"FLAGGED        chars {span['char_start']}-{span['char_end']} ({span['source']}, {span['document']})"
        )
        click.echo(f"               {'; '.join(span['why'])}")
    for gone in report["missing_sources"]:
        notice(f"not checked against {gone['name']}: {gone['fix']}")


@click.group()
def reference() -> None:
    """The reference corpora originality is checked against (indexed once, kept under FABULA_HOME)."""


@reference.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_sources(as_json: bool) -> None:
    """Every source: installed corpora, registered folders and training corpora, built or not."""
    from fabula.responsible.reference import fingerprint, sources

    home = get_settings().ensure_home()
    found, missing = sources(home)
    rows = []
    for source in found:
        meta_path = home / "originality" / source.name / "meta.json"
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        state = "built" if meta.get("fingerprint") == fingerprint(source) else ("stale" if meta else "not built")
        rows.append({"name": source.name, "kind": source.kind, "state": state} | meta)
    if as_json:
        click.echo(json.dumps({"sources": rows, "missing": missing}))
        return
    for row in rows:
        extra = f"{row.get('documents', 0):>7} documents {row.get('tokens', 0):>10} tokens" if "tokens" in row else ""
        click.echo(f"{row['name']:<16} {row['kind']:<9} {row['state']:<10} {extra}")
    for gone in missing:
        click.echo(f"{gone['name']:<16} missing   ({gone['fix']})")


@reference.command("add")
@click.argument("name")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
def add_source(name: str, folder: Path) -> None:
    """Register FOLDER (its .txt files) as the reference source NAME; indexed on next use."""
    from fabula.responsible.reference import register

    entry = register(get_settings().ensure_home(), name, folder)
    notice(f"registered {name} → {entry['path']}")


@reference.command("remove")
@click.argument("name")
def remove_source(name: str) -> None:
    from fabula.responsible.reference import unregister

    unregister(get_settings().ensure_home(), name)
    notice(f"removed {name}")


@reference.command("build")
@click.option("--json", "as_json", is_flag=True)
def build(as_json: bool) -> None:
    """Index every source that is new or changed, now rather than on the first check."""
    from fabula.responsible.reference import open_shards

    shards, missing = open_shards(get_settings().ensure_home(), on_build=None if as_json else _notice)
    metas = [s.meta for s in shards]
    if as_json:
        click.echo(json.dumps({"sources": metas, "missing": missing}))
        return
    for meta in metas:
        click.echo(
            f"{meta['name']:<16} {meta['documents']:>7} documents {meta['tokens']:>10} tokens ({meta['build_s']} s)"
        )
