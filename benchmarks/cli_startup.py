"""`fabula --help` start-up time against `python -c "import click"`, side by side in one run.

Both commands run as fresh processes, interleaved (a, b, a, b, ...) so that a busy machine slows
both alike; the table reports the medians of `--runs` runs each and their ratio. The floor is the
interpreter plus click itself: what fabula adds is the difference.

    .venv/bin/python benchmarks/cli_startup.py --runs 10 --markdown benchmarks/results/cli_startup.md
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--markdown", type=Path, help="also write the table here")
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
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(table + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
