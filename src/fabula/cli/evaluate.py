"""`fabula eval decoding`: measure what each decoding method does, as a table, JSON and a plot."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from fabula.settings import get_settings


@click.group(name="eval")
def evaluate() -> None:
    """Measurements of fabula's controls."""


@evaluate.command("decoding")
@click.option("--quick", is_flag=True, help="8 prompts, 64 tokens, 4 beams: a few minutes on 2 cores.")
@click.option("--prompts", type=click.IntRange(1, 500), help="Number of Austen prompts (default 32; quick 8).")
@click.option("--max-tokens", type=click.IntRange(8, 1000), help="Tokens per continuation (default 200; quick 64).")
@click.option("--beams", type=click.IntRange(2, 32), help="Beam width (default 8; quick 4).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Folder for table, JSON and plot.")
@click.option("--json", "as_json", is_flag=True, help='Print {"rows": [...], ...} only.')
def decoding(
    quick: bool,
    prompts: int | None,
    max_tokens: int | None,
    beams: int | None,
    seed: int,
    out: Path | None,
    as_json: bool,
) -> None:
    """Holtzman et al. 2020, Table 1, on the embedded model: perplexity, Self-BLEU-4, Zipf,
    repetition, distinct-n and diversity for each method, and for Austen herself."""
    from dataclasses import replace

    from fabula.evals.decoding import EvalConfig, markdown, run, save

    config = EvalConfig.quick() if quick else EvalConfig()
    changes = {k: v for k, v in {"prompts": prompts, "max_tokens": max_tokens, "beams": beams}.items() if v}
    config = replace(config, seed=seed, **changes)
    settings = get_settings()
    folder = out or settings.ensure_home() / "evals" / f"decoding-{time.strftime('%Y%m%d-%H%M%S')}"
    result = run(settings, config, progress=None if as_json else lambda m: click.echo(f"  {m} done", err=True))
    files = save(result, folder)
    if as_json:
        click.echo(json.dumps({**result, "files": files}, ensure_ascii=False))
    else:
        click.echo(markdown(result))
        click.echo(f"table, JSON and plot in {folder}", err=True)


@evaluate.command("creativity")
@click.option("--prompts", type=click.IntRange(1, 100), default=8, show_default=True)
@click.option("--max-tokens", type=click.IntRange(16, 400), default=96, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Calibration JSON (default: FABULA_HOME).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), help="Also save the plot here.")
def creativity(prompts: int, max_tokens: int, out: Path | None, plot_path: Path | None) -> None:
    """Measure a temperature × min-p grid and pick the five --creativity presets along its front."""
    from fabula.evals.creativity import calibrate, plot, save

    settings = get_settings()
    result = calibrate(settings, prompts=prompts, max_tokens=max_tokens)
    target = out or settings.ensure_home() / "evals" / "creativity.json"
    save(result, target)
    if plot_path:
        plot(result, plot_path)
    for level in result["levels"]:
        click.echo(
            f"creativity {level['creativity']:.2f}: {level['params']}  perplexity {level['perplexity']}, "
            f"diversity {level['diversity']}"
        )
    click.echo(
        f"Austen: perplexity {result['human']['perplexity']}, diversity {result['human']['diversity']}; "
        f"written to {target}",
        err=True,
    )
