"""Batch throughput: a 200-item personalized-copy job on 1, 2 and 3 engine endpoints, local pool
against Ray tasks, side by side in one run.

    python benchmarks/batch.py --json benchmarks/results/batch.json

The endpoints are real llama.cpp servers on the embedded model (one slot, one thread each; see
fabula.batch.local_fleet). The job: 200 social posts and product blurbs for 8 users with their
own preferences (tone, length), 24 tokens each, seeded. Each configuration starts from an empty
output file; the servers are started once and shared. Workers = the endpoints' total slots.
Scaling efficiency = (items/min with k endpoints) / (k x items/min with 1 endpoint).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SUBJECTS = ["rye sourdough", "walnut desk", "wool scarf", "night train tickets", "harbour tour", "fig jam",
            "reading lamp", "garden shears", "jazz vinyl", "ceramic mug"]  # fmt: skip
TONES = ["warm", "playful", "formal", "wry"]


def job_items(count: int) -> list[dict[str, Any]]:
    items = []
    for i in range(count):
        subject = SUBJECTS[i % len(SUBJECTS)]
        form = "social" if i % 2 == 0 else "product"
        inputs = {"platform": "x"} if form == "social" else {"words": "40"}
        items.append(
            {
                "id": f"item{i:04d}",
                "form": form,
                "prompt": f"our {subject}",
                "inputs": inputs,
                "user": f"user{i % 8}",
                "params": {"max_tokens": 24, "seed": i},
            }  # fmt: skip
        )
    return items


def make_users(home: Path) -> None:
    from fabula.personalize.profiles import ProfileStore
    from fabula.settings import Settings

    profiles = ProfileStore(Settings(home=home).db_url)
    for u in range(8):
        profiles.add_user(f"user{u}", {"tone": TONES[u % 4], "length": "short"})


def run_one(executor: str, endpoints: list[str], items: list[dict[str, Any]], home: Path) -> dict[str, Any]:
    import yaml

    from fabula.batch.executors import make_executor
    from fabula.batch.job import load_job
    from fabula.batch.runner import run_batch

    folder = Path(tempfile.mkdtemp(prefix=f"batch-{executor}-{len(endpoints)}-"))
    spec = {
        "name": f"bench-{executor}-{len(endpoints)}",
        "requests": items,
        "output": "out.jsonl",
        "endpoints": [{"url": url, "model": "smollm2", "concurrency": 1} for url in endpoints],
    }
    (folder / "job.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    job = load_job(folder / "job.yaml")
    runner = make_executor(executor, len(endpoints))
    try:
        start = time.perf_counter()
        summary = run_batch(job, runner)
        seconds = time.perf_counter() - start
    finally:
        runner.shutdown()
    return {
        "executor": executor,
        "endpoints": len(endpoints),
        "items": len(items),
        "ok": summary.ok,
        "errors": summary.error,
        "seconds": round(seconds, 1),
        "items_per_minute": round(60 * summary.ok / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="fabula-batch-home-"))
    os.environ["FABULA_HOME"] = str(home)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    from fabula.batch.local_fleet import start_llama_servers, stop_servers

    make_users(home)
    items = job_items(args.items)
    servers = start_llama_servers(3, threads=1)
    urls = [url for _, url in servers]
    rows = []
    try:
        for count in (1, 2, 3):
            for executor in ("local", "ray"):
                row = run_one(executor, urls[:count], items, home)
                print(json.dumps(row), file=sys.stderr, flush=True)
                rows.append(row)
    finally:
        stop_servers(servers)
    for row in rows:
        one = next(r for r in rows if r["executor"] == row["executor"] and r["endpoints"] == 1)
        row["scaling_efficiency"] = round(row["items_per_minute"] / (row["endpoints"] * one["items_per_minute"]), 2)
    result = {"cpu_cores": os.cpu_count(), "rows": rows}
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
