"""How many threads should llama.cpp use here? Prefill and decode speed of the default model at
each thread count, measured side by side in one run (median of --repeats), with and without
OMP_WAIT_POLICY=PASSIVE (each setting in its own process, since OpenMP reads it at start-up).

With --contention, the same probe at 1 thread, every core, and fabula's default ("auto": the cores
other work leaves free, fabula/threads.py), first on the idle machine and then with one CPU burner
per core running beside it, as on a shared machine.

    python benchmarks/threads.py [--repeats 5] [--max-tokens 128] [--contention]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

PROBE = r"""
import json, sys, statistics, xllamacpp
from fabula.models import default_model_path
from fabula.threads import resolve_threads
threads = resolve_threads(sys.argv[1] if sys.argv[1] == "auto" else int(sys.argv[1]))
tokens, repeats = (int(a) for a in sys.argv[2:4])
p = xllamacpp.CommonParams(); p.model.path = str(default_model_path()); p.n_ctx = 4096
p.cpuparams.n_threads = threads; p.cpuparams_batch.n_threads = threads; p.verbosity = -1
server = xllamacpp.Server(p)
prompt = "Write a long story about a lighthouse keeper. " * 20
rows = []
for i in range(repeats + 1):
    r = server.handle_completions({"prompt": prompt, "max_tokens": tokens, "seed": i, "ignore_eos": True,
                                   "cache_prompt": False})
    rows.append((r["timings"]["prompt_per_second"], r["timings"]["predicted_per_second"]))
rows = rows[1:]  # the first run warms up
print(json.dumps({"threads": threads, "prefill": statistics.median(r[0] for r in rows),
                  "decode": statistics.median(r[1] for r in rows)}))
"""


BURN = "while True: pass"


def probe(threads: str, tokens: int, repeats: int, env: dict[str, str] | None = None) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, threads, str(tokens), str(repeats)],
        capture_output=True,
        text=True,
        env=env or dict(os.environ),
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def contention(tokens: int, repeats: int) -> None:
    """Each policy idle, then beside one burner per core; the rows of one load side by side."""
    cores = os.cpu_count() or 1
    print("| machine | FABULA_THREADS | threads used | prefill tok/s | decode tok/s |\n|---|---|---|---|---|")
    for burners in (0, cores):
        procs = [subprocess.Popen([sys.executable, "-c", BURN]) for _ in range(burners)]
        try:
            for setting in ("1", str(cores), "auto"):
                data = probe(setting, tokens, repeats)
                load = "idle" if not burners else f"{burners} CPU burners"
                print(
                    f"| {load} | {setting} | {data['threads']:.0f} | {data['prefill']:.0f} | {data['decode']:.1f} |",
                    flush=True,
                )
        finally:
            for proc in procs:
                proc.kill()
                proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--contention", action="store_true", help="the thread policies idle and beside CPU burners")
    args = parser.parse_args()
    if args.contention:
        contention(args.max_tokens, args.repeats)
        return
    cores = os.cpu_count() or 1
    print("| threads | OMP_WAIT_POLICY | prefill tok/s | decode tok/s |\n|---|---|---|---|")
    for threads in sorted({1, 2, cores}):
        for policy in ("", "PASSIVE"):
            env = {**os.environ, "OMP_WAIT_POLICY": policy} if policy else dict(os.environ)
            data = probe(str(threads), args.max_tokens, args.repeats, env)
            print(f"| {threads} | {policy or 'default'} | {data['prefill']:.0f} | {data['decode']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
