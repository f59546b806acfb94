"""Entry point: the `fabula` group, shared options, and one place that turns errors into messages.

Every FabulaError becomes `error: ...` on stderr with exit code 2 (3 for a rejected work, which
is still saved); every other failure one line too (see `fabula.cli.faults` for the exit codes);
nothing here imports an engine, so `fabula --help` stays fast.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from fabula import __version__
from fabula.errors import FabulaError, Rejected


def cli_hint(exc: FabulaError) -> str:
    """The command line's own words for a library error, which names parameters, not flags."""
    from fabula.errors import FormError, InvalidParam

    if isinstance(exc, FormError) and exc.input is not None:
        return " (form inputs are set with --set NAME=VALUE)"
    if isinstance(exc, InvalidParam):
        from fabula.sampling import SamplingControls

        if exc.name in SamplingControls.model_fields:
            from fabula.cli.options import cli_name

            return f" (the option {cli_name(exc.name)})"
        if exc.name == "watermark":
            return " (the option --watermark)"
        if exc.name == "adapter":
            return " (add --engine hf)"
    return ""


class FabulaGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Rejected as exc:
            click.echo(f"rejected: {exc}", err=True)
            sys.exit(3)
        except FabulaError as exc:
            click.echo(f"error: {exc}{cli_hint(exc)}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted: nothing unfinished was saved", err=True)
            sys.exit(INTERRUPTED)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # below fabula: the OS, the database, the settings (see cli.faults)
            if os.environ.get("FABULA_DEBUG"):
                raise
            from fabula.cli.faults import explain

            message, code = explain(exc)
            click.echo(f"error: {message}", err=True)
            sys.exit(code)


# name -> (module:attribute, one line for `fabula --help`). A command's module is imported only
# when that command runs (or shows its own help): `fabula --help` imports none of them.
COMMANDS: dict[str, tuple[str, str]] = {
    "write": ("fabula.cli.write:write", "Write a FORM (story, poem, lyrics, ...) from PROMPT, and save it."),
    "check": ("fabula.cli.check:check", "Validate texts against their form."),
    "data": ("fabula.cli.data:data", "Corpora installed from packages, and training data prepared from them."),
    "eval": ("fabula.cli.evaluate:evaluate", "Measurements of fabula's controls."),
    "works": ("fabula.cli.works:works", "Saved works and their provenance."),
    "models": (
        "fabula.cli.models:models",
        "Models to install from packages (list, show, install, remove), and the engines.",
    ),
    "train": ("fabula.cli.train:train", "Pretrain our GPT, or fine-tune a model (LoRA or full)."),
    "export": ("fabula.cli.export:export", "Export a fabula GPT to Hugging Face or GGUF, losslessly (float32)."),
    "inspect": ("fabula.cli.export:inspect", "Look inside a model."),
    "plan": ("fabula.cli.plan:plan", "Long-form plans: show, edit, regenerate, resume, undo, check, ledger, export."),
    "draft": (
        "fabula.cli.draft:draft",
        "Manuscripts you and the model write together: verbs on a selection, history, attribution.",
    ),
    "continuity": (
        "fabula.cli.continuity:continuity",
        "Continuity of long works: the story's state (a ledger) and its contradictions.",
    ),
    "bible": ("fabula.cli.plan:bible", "A plan's story bible: characters, places, facts and style notes."),
    "watermark": ("fabula.cli.watermark:watermark", "The green-list watermark (Kirchenbauer et al. 2023)."),
    "originality": (
        "fabula.cli.originality:originality",
        "How much of a text occurs verbatim in the reference corpora.",
    ),
    "reference": ("fabula.cli.originality:reference", "The reference corpora originality is checked against."),
    "provenance": ("fabula.cli.provenance:provenance", "Provenance manifests: the JSON sidecar beside every export."),
    "user": ("fabula.cli.personal:user", "Users, their preferences, keys and passwords."),
    "feedback": ("fabula.cli.personal:feedback", "Record what a user did with an item."),
    "catalog": ("fabula.cli.personal:catalog", "The items recommended: articles, movies, works, products."),
    "recommend": ("fabula.cli.personal:recommend", "Items for a user from their preferences and history."),
    "digest": (
        "fabula.cli.personal:digest",
        "A news digest for a user: the articles their interests pick, summarised.",
    ),
    "serve": ("fabula.cli.serve:serve", "Serve the HTTP API (OpenAI-compatible /v1), the studio and /docs."),
    "batch": ("fabula.cli.batch:batch", "Batch jobs: a file of requests in, one JSON line per result out."),
    "persona": ("fabula.cli.stream:persona", "Persona cards: YAML, or SillyTavern's Character Card V2 (JSON or PNG)."),
    "stream": (
        "fabula.cli.stream:stream",
        "The virtual streamer: replay a chat, or go live in IRC (Twitch) chat.",
    ),
    "plugins": ("fabula.cli.plugins:plugins", "Engines, forms and exporters added by installed packages."),
}


class LazyGroup(FabulaGroup):
    """Subcommands imported on first use; the group's help lists them from `COMMANDS`."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        import importlib

        module, _, attr = COMMANDS[cmd_name][0].partition(":")
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, text) for name, (_, text) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fabula")
@click.option("-v", "--verbose", count=True, help="Say what each step does (-vv: in detail), on stderr.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr: no progress bars or notices.")
def cli(verbose: int, quiet: bool) -> None:
    """fabula: stories, poems and more from language models, with measured controls.

    Works are saved with their provenance under FABULA_HOME (see `fabula works list`).
    """
    from fabula.log import configure

    configure(verbose, quiet)


INTERRUPTED = 130


def main() -> None:
    """The `fabula` command. After Ctrl-C the process leaves at once: an engine's native threads,
    stopped mid-generation, must not be torn down by the interpreter's shutdown (llama.cpp aborts
    the process then). Nothing is pending: every save is committed before it is reported."""
    try:
        cli()
    except SystemExit as exc:
        if exc.code == INTERRUPTED:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(INTERRUPTED)
        raise


if __name__ == "__main__":
    main()
