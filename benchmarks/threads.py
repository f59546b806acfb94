"""How many threads should llama.cpp use here? Prefill and decode speed of the default model at
each thread count, measured side by side in one run (median of --repeats), with and without
OMP_WAIT_POLICY=PASSIVE (each setting in its own process, since OpenMP reads it at start-up).

    python benchmarks/threads.py [--repeats 5] [--max-tokens 128]
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
threads, tokens, repeats = (int(a) for a in sys.argv[1:4])
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
print(json.dumps({"prefill": statistics.median(r[0] for r in rows), "decode": statistics.median(r[1] for r in rows)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    print("| threads | OMP_WAIT_POLICY | prefill tok/s | decode tok/s |\n|---|---|---|---|")
    for threads in sorted({1, 2, cores}):
        for policy in ("", "PASSIVE"):
            env = {**os.environ, "OMP_WAIT_POLICY": policy} if policy else dict(os.environ)
            out = subprocess.run(
                [sys.executable, "-c", PROBE, str(threads), str(args.max_tokens), str(args.repeats)],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            )
            data = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"| {threads} | {policy or 'default'} | {data['prefill']:.0f} | {data['decode']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
