"""`fabula batch run JOB.yaml`: many requests, on a local process pool or on Ray, resumable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from fabula.cli.render import notice


@click.group()
def batch() -> None:
    """Batch jobs: a file of requests in, one JSON line per result out."""


@batch.command("run")
@click.argument("job_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--address", help="A Ray cluster's address (ray://HOST:10001 or auto); none: a local Ray instance.")
@click.option(
    "--workers",
    type=click.IntRange(1, 4096),
    help="Parallel requests (default: the endpoints' total concurrency, or 1).",
)
@click.option("--retry-errors", is_flag=True, help="Send again the requests recorded as errors.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (no progress bar).")
def run(
    job_file: Path, executor: str, address: str | None, workers: int | None, retry_errors: bool, as_json: bool
) -> None:
    """Run JOB_FILE. Results already in its output are kept and not redone, so a job that was
    stopped (or crashed) is finished by running it again."""
    from fabula.batch.executors import make_executor
    from fabula.batch.job import load_job
    from fabula.batch.runner import run_batch

    job = load_job(job_file)
    if address and executor != "ray":
        raise click.UsageError("--address is for --executor ray")
    workers = workers or (sum(e.concurrency for e in job.endpoints) or 1)
    runner = make_executor(executor, workers, address)
    try:
        if as_json:
            summary = run_batch(job, runner, retry_errors)
        else:
            summary = _with_progress(job, runner, retry_errors)
    finally:
        runner.shutdown()
    result = summary.to_dict(job.output)
    if as_json:
        click.echo(json.dumps(result))
    else:
        notice(
            f"{result['ok']} ok, {result['error']} errors, {result['skipped']} already done "
            f"({result['retried']} retried elsewhere) in {result['seconds']:.1f} s, "
            f"{result['items_per_minute']} items/min → {job.output}"
        )
    if summary.error:
        raise SystemExit(3)


def _with_progress(job: Any, runner: Any, retry_errors: bool) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from fabula.batch.runner import run_batch

    progress = Progress(
        TextColumn("[bold]batch"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[errors]} errors"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )
    task = progress.add_task("batch", total=None, errors=0)
    with progress:
        return run_batch(
            job,
            runner,
            retry_errors,
            on_progress=lambda s: progress.update(
                task, total=s.total - s.skipped, completed=s.ok + s.error, errors=s.error
            ),
        )
