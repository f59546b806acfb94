"""The HTTP server under load: fabula serve against llama.cpp's own server, same model, same run.

    python benchmarks/serve.py --json benchmarks/results/serve.json

Each server runs alone in its own process on the embedded model with 2 threads and the same
number of slots (`--slots`, 8 by default: fabula's default; each slot with its own 4,096-token KV
cache) and flash attention off, as fabula runs it; and llama.cpp's server once more as its
defaults have it, flash attention on, at `--best-slots` (16). llama.cpp's server is given 32 HTTP
threads: with its default few it drops connections it has no thread for.
For 1, 4 and 16 concurrent clients, `--requests` streaming chat requests (64 tokens, temperature
0.8, one seed each) are sent through one HTTP client; we record each request's time to first token
and the requests per second of the whole batch. Safety checks and validation are on for fabula, as
served. A fresh server is waited for until it answers (a busy machine makes it slow to start).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

LLAMA = """
import sys, xllamacpp
from fabula.models import default_model_path
p = xllamacpp.CommonParams()
slots, flash = int(sys.argv[1]), sys.argv[2] == "on"
if not flash:
    p.flash_attn_type = xllamacpp.llama_flash_attn_type.LLAMA_FLASH_ATTN_TYPE_DISABLED
p.model.path = str(default_model_path()); p.n_ctx = 4096 * slots; p.n_parallel = slots; p.kv_unified = False
p.n_threads_http = 32
p.cpuparams.n_threads = 2; p.cpuparams_batch.n_threads = 2; p.verbosity = -1; p.model_alias = "smollm2"
s = xllamacpp.Server(p)
print(s.listening_address, flush=True)
sys.stdin.read()
"""
SUBJECTS = [
    "a lighthouse",
    "a clockmaker",
    "a night train",
    "a lost dog",
    "a desert well",
    "an old map",
    "a bakery",
    "a storm",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# The same sampling on both servers, spelled as each names it: no repetition penalty (fabula's
# default is 1.1; llama.cpp's server default is 1.0), top-k 40, top-p 0.95, min-p 0.05.
SAME = {"fabula": {"repetition_penalty": 1.0}, "llama.cpp": {"repeat_penalty": 1.0}}
# each server is measured with its prompt cache off and on: fabula through
# FABULA_LLAMACPP_CACHE_PROMPT (on by default: it reuses a prefix only where the logits stay those
# of a cold prefill, and only while no other request runs), llama.cpp per request
CACHES = (False, True)


async def one(client: httpx.AsyncClient, url: str, model: str, seed: int, server: str, cache: bool) -> float | None:
    cache_field = {"cache_prompt": cache} if server == "llama.cpp" else {}
    body = (
        SAME[server]
        | cache_field
        | {
            "model": model,
            "messages": [{"role": "user", "content": f"Write a short story about {SUBJECTS[seed % len(SUBJECTS)]}."}],
            "max_tokens": 64,
            "temperature": 0.8,
            "top_k": 40,
            "top_p": 0.95,
            "min_p": 0.05,
            "seed": seed,
            "stream": True,
        }
    )
    start = time.perf_counter()
    try:
        return await _read(client, url, body, start)
    except httpx.RemoteProtocolError:
        return None  # the server dropped the connection: counted, not timed


async def _read(client: httpx.AsyncClient, url: str, body: dict[str, Any], start: float) -> float:
    first = None
    async with client.stream("POST", f"{url}/chat/completions", json=body) as reply:
        reply.raise_for_status()
        async for line in reply.aiter_lines():
            if (
                first is None
                and line.startswith("data: ")
                and '"content"' in line
                and '"content": ""' not in line
                and '"content":""' not in line
            ):
                first = time.perf_counter() - start
    return first if first is not None else time.perf_counter() - start


async def load(url: str, model: str, concurrency: int, requests: int, server: str, cache: bool) -> dict[str, Any]:
    # a new connection per request for both: llama.cpp's server closes idle keep-alive connections
    # under the client, which then counts as a dropped request
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:
        await one(client, url, model, 999, server, cache)  # warm: the model loaded, the prompt cache primed
        gate = asyncio.Semaphore(concurrency)

        async def bounded(seed: int) -> float | None:
            async with gate:
                return await one(client, url, model, seed, server, cache)

        started = time.perf_counter()
        firsts = await asyncio.gather(*(bounded(seed) for seed in range(requests)))
        elapsed = time.perf_counter() - started
    ordered = sorted(f for f in firsts if f is not None)
    return {
        "concurrency": concurrency,
        "requests": requests,
        "dropped": requests - len(ordered),
        "rps": round(len(ordered) / elapsed, 3),
        "ttft_p50_s": round(statistics.median(ordered), 3),
        "ttft_p95_s": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 3),
    }


def run_fabula(concurrency: list[int], requests: int, cache: bool, slots: int) -> list[dict[str, Any]]:
    port = free_port()
    home = tempfile.mkdtemp(prefix="fabula-bench-")
    env = os.environ | {"FABULA_HOME": home, "FABULA_THREADS": "2", "FABULA_API_MAX_QUEUE": "64"}
    env["FABULA_LLAMACPP_SLOTS"] = str(slots)
    env["FABULA_LLAMACPP_CACHE_PROMPT"] = "true" if cache else "false"
    server = subprocess.Popen([sys.executable, "-m", "fabula.cli.main", "serve", "--port", str(port)], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=30).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise SystemExit(f"fabula serve did not answer on {url} within 300 s")
        model = httpx.get(f"{url}/v1/models", timeout=120).json()["data"][0]["id"]
        return [asyncio.run(load(f"{url}/v1", model, c, requests, "fabula", cache)) for c in concurrency]
    finally:
        server.terminate()
        server.wait(timeout=30)


def run_llama(concurrency: list[int], requests: int, cache: bool, slots: int, flash: bool) -> list[dict[str, Any]]:
    command = [sys.executable, "-c", LLAMA, str(slots), "on" if flash else "off"]
    server = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        address = server.stdout.readline().strip()
        return [asyncio.run(load(f"{address}/v1", "smollm2", c, requests, "llama.cpp", cache)) for c in concurrency]
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--slots", type=int, default=8)
    parser.add_argument("--best-slots", type=int, default=16)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    levels = [1, 4, 16]
    rows = []
    print("| prompt cache | streams | fabula req/s | llama.cpp req/s | ratio | fabula TTFT p50 / p95 |", end="")
    print(f" llama.cpp TTFT p50 / p95 | llama.cpp, {args.best_slots} slots, flash attention: req/s, TTFT p50 / p95 |")
    print("|---|---:|---:|---:|---:|---|---|---|")
    for cache in CACHES:
        ours = run_fabula(levels, args.requests, cache, args.slots)
        theirs = run_llama(levels, args.requests, cache, args.slots, flash=False)  # like for like
        best = run_llama(levels, args.requests, cache, args.best_slots, flash=True)  # its defaults
        for f, ll, b in zip(ours, theirs, best, strict=True):
            ratio = round(f["rps"] / ll["rps"], 3)
            rows.append(
                {
                    "cache_prompt": cache,
                    "concurrency": f["concurrency"],
                    "slots": args.slots,
                    "fabula": f,
                    "llama.cpp": ll,
                    f"llama.cpp, {args.best_slots} slots": b,
                    "rps_ratio": ratio,
                }
            )
            print(
                f"| {'on' if cache else 'off'} | {f['concurrency']} | {f['rps']} | {ll['rps']} | {ratio} "
                f"| {f['ttft_p50_s']} / {f['ttft_p95_s']} s | {ll['ttft_p50_s']} / {ll['ttft_p95_s']} s "
                f"| {b['rps']}, {b['ttft_p50_s']} / {b['ttft_p95_s']} s |"
            )
            if f["dropped"] or ll["dropped"] or b["dropped"]:
                print(f"dropped: fabula {f['dropped']}, llama.cpp {ll['dropped']} and {b['dropped']}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
