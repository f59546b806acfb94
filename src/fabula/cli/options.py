"""Click options derived from the one declaration of the sampling controls (`SamplingControls`).

Each numeric control becomes `--name-with-dashes` with the field's type and description, so the
CLI offers exactly what the API accepts, with the same bounds (checked by `SamplingParams`).
`stop` and `ban_phrases` are repeatable options (`--stop`, `--ban`), and `--creativity` is a
measured preset that explicit sampler options override.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from fabula.sampling import BOUNDS, SamplingControls, SamplingParams

REPEATED = {
    "stop": ("--stop", "Stop string (repeatable)."),
    "ban_phrases": ("--ban", "Phrase to undo by backtracking when it appears (repeatable)."),
}


def cli_name(field: str) -> str:
    return REPEATED[field][0] if field in REPEATED else "--" + field.replace("_", "-")


def sampling_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add every sampling control (and --creativity) to a click command."""
    for name in reversed(list(SamplingControls.model_fields)):
        info = SamplingControls.model_fields[name]
        if name in REPEATED:
            flag, text = REPEATED[name]
            command = click.option(flag, name, multiple=True, help=text)(command)
        else:
            command = click.option(cli_name(name), name, type=BOUNDS[name].kind, help=info.description)(command)
    return click.option(
        "--creativity",
        type=float,
        help="0 (predictable) to 1 (adventurous): a measured sampler preset; explicit sampler flags win.",
    )(command)


def build_params(options: dict[str, Any]) -> SamplingParams:
    """SamplingParams from the parsed options (the preset first, explicit flags over it)."""
    given = {name: options[name] for name in BOUNDS if options.get(name) is not None}
    if options.get("creativity") is not None:
        from fabula.decoding.creativity import preset

        given = {**preset(options["creativity"]), **given}
    for name in REPEATED:
        if options.get(name):
            given[name] = tuple(options[name])
    return SamplingParams.from_mapping(given)


def pop_sampling(options: dict[str, Any]) -> dict[str, Any]:
    """Remove the sampling options from a command's keyword arguments (returns them)."""
    names = [*SamplingControls.model_fields, "creativity"]
    return {name: options.pop(name) for name in names if name in options}
