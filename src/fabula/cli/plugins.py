"""`fabula plugins`: the engines, forms and exporters installed packages add, and template forms."""

from __future__ import annotations

import json

import click


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help='[{"kind", "name", "target", "distribution"}, ...]')
def plugins(as_json: bool) -> None:
    """List plugins (entry points fabula.engines, fabula.forms, fabula.exporters) without loading them,
    and the template forms in FABULA_HOME/forms."""
    from fabula.forms import user_forms
    from fabula.plugins import listed

    rows = [p.__dict__ for p in listed()]
    rows += [
        {"kind": "forms", "name": n, "target": str(path), "distribution": "FABULA_HOME"}
        for n, path in user_forms().items()
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        click.echo("no plugins installed (see the README: Plugins)")
    for row in rows:
        click.echo(f"{row['kind']:<10} {row['name']:<16} {row['target']}  ({row['distribution']})")
