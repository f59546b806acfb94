"""Entry point: the `fabula` group, shared options, and one place that turns errors into messages.

Every FabulaError becomes `error: ...` on stderr with exit code 2 (3 for a rejected work, which
is still saved); nothing here imports an engine, so `fabula --help` stays fast.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from fabula import __version__
from fabula.errors import FabulaError, Rejected


class FabulaGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Rejected as exc:
            click.echo(f"rejected: {exc}", err=True)
            sys.exit(3)
        except FabulaError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


@click.group(cls=FabulaGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fabula")
def cli() -> None:
    """fabula: stories, poems and more from language models, with measured controls.

    Works are saved with their provenance under FABULA_HOME (see `fabula works list`).
    """


def _register() -> None:
    from fabula.cli.batch import batch
    from fabula.cli.check import check
    from fabula.cli.data import data
    from fabula.cli.evaluate import evaluate
    from fabula.cli.export import export, inspect
    from fabula.cli.models import models
    from fabula.cli.originality import originality, reference
    from fabula.cli.personal import catalog, digest, feedback, recommend, user
    from fabula.cli.plan import bible, plan
    from fabula.cli.provenance import provenance
    from fabula.cli.serve import serve
    from fabula.cli.stream import persona, stream
    from fabula.cli.train import train
    from fabula.cli.watermark import watermark
    from fabula.cli.works import works
    from fabula.cli.write import write

    cli.add_command(write)
    cli.add_command(check)
    cli.add_command(data)
    cli.add_command(evaluate)
    cli.add_command(works)
    cli.add_command(models)
    cli.add_command(train)
    cli.add_command(export)
    cli.add_command(inspect)
    cli.add_command(plan)
    cli.add_command(bible)
    cli.add_command(watermark)
    cli.add_command(originality)
    cli.add_command(reference)
    cli.add_command(provenance)
    cli.add_command(user)
    cli.add_command(feedback)
    cli.add_command(catalog)
    cli.add_command(recommend)
    cli.add_command(digest)
    cli.add_command(serve)
    cli.add_command(batch)
    cli.add_command(persona)
    cli.add_command(stream)


_register()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
