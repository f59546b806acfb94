"""`fabula --help` start-up time against `python -c "import click"`, side by side in one run; and
a haiku written by a fresh `fabula write` process against the least a script needs to do the same.

Both commands run as fresh processes, interleaved (a, b, a, b, ...) so that a busy machine slows
both alike; the table reports the medians of `--runs` runs each and their ratio. The floor is the
interpreter plus click itself: what fabula adds is the difference.

The haiku: `fabula write poem "…" --set form=haiku --no-stream` (constrained decoding, checks,
scoring, saving the work) against a minimal script that imports xllamacpp, loads the same GGUF
with one slot and the same threads, and generates as many tokens as the haiku has, end of text
ignored. The ratio is what fabula's start-up, checks and stepping cost over the engine alone.

    .venv/bin/python benchmarks/cli_startup.py --runs 10 --markdown benchmarks/results/cli_startup.md
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = {
    "python -c 'import click'": [sys.executable, "-c", "import click"],
    "fabula --help": [sys.executable, "-m", "fabula.cli.main", "--help"],
    "fabula write --help": [sys.executable, "-m", "fabula.cli.main", "write", "--help"],
}


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


HAIKU = [sys.executable, "-m", "fabula.cli.main", "write", "poem", "the tide going out at dusk"]
HAIKU += ["--set", "form=haiku", "--seed", "5", "--no-stream"]
MINIMAL = """
import sys, xllamacpp
from fabula.models import default_model_path
p = xllamacpp.CommonParams()
p.model.path = str(default_model_path()); p.n_ctx = 4096; p.verbosity = -1
p.cpuparams.n_threads = p.cpuparams_batch.n_threads = {threads}
server = xllamacpp.Server(p)
server.handle_completions({{"prompt": "the tide going out at dusk", "max_tokens": {tokens}, "ignore_eos": True}})
"""


def haiku_rows(runs: int, threads: int) -> list[str]:
    """Median wall time of the haiku command and of the minimal script, interleaved."""
    os.environ["FABULA_THREADS"] = str(threads)
    os.environ.setdefault("FABULA_HOME", tempfile.mkdtemp(prefix="fabula-bench-"))
    done = subprocess.run([*HAIKU, "--json"], check=True, capture_output=True, text=True)
    tokens = json.loads(done.stdout)["candidates"][0]["scores"]["tokens"]
    minimal = [sys.executable, "-c", MINIMAL.format(threads=threads, tokens=tokens)]
    commands = {"fabula write poem … --set form=haiku --no-stream": HAIKU, f"minimal script, {tokens} tokens": minimal}
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            times[name].append(timed(command))
    floor = statistics.median(times[next(reversed(commands))])
    lines = ["| command | median (s) | min (s) | max (s) | × minimal script |", "|---|---|---|---|---|"]
    for name, values in times.items():
        median = statistics.median(values)
        lines.append(f"| `{name}` | {median:.3f} | {min(values):.3f} | {max(values):.3f} | {median / floor:.2f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    parser.add_argument("--threads", type=int, default=2, help="engine threads for the haiku rows")
    args = parser.parse_args()
    for command in COMMANDS.values():
        timed(command)  # warm the file cache once
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.runs):
        for name, command in COMMANDS.items():
            times[name].append(timed(command))
    floor = statistics.median(times["python -c 'import click'"])
    lines = ["| command | median (s) | min (s) | max (s) | × import click |", "|---|---|---|---|---|"]
    for name, values in times.items():
        median = statistics.median(values)
        lines.append(f"| `{name}` | {median:.3f} | {min(values):.3f} | {max(values):.3f} | {median / floor:.2f} |")
    table = "\n".join([*lines, "", *haiku_rows(args.runs, args.threads)])
    print(table)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(table + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
