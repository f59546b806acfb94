"""Real llama.cpp servers on 127.0.0.1, one process each: a local stand-in for an engine fleet.

Each is llama.cpp's own OpenAI-compatible server (the prebuilt xllamacpp wheel) on the embedded
model, in a process of its own so that it can be killed like a real server; the batch tests and
the batch benchmark drive them. A process prints its address, then serves until its stdin closes.
"""

from __future__ import annotations

import subprocess
import sys

SERVER = """
import sys, xllamacpp
from fabula.models import default_model_path
p = xllamacpp.CommonParams()
p.model.path = str(default_model_path()); p.n_ctx = 2048; p.n_parallel = int(sys.argv[2])
p.cpuparams.n_threads = int(sys.argv[1]); p.cpuparams_batch.n_threads = int(sys.argv[1])
p.verbosity = -1; p.model_alias = "smollm2"; p.n_threads_http = 8
s = xllamacpp.Server(p)
print(s.listening_address, flush=True)
sys.stdin.read()
"""


def start_llama_servers(count: int, threads: int = 1, parallel: int = 1) -> list[tuple[subprocess.Popen[str], str]]:
    """Start `count` servers; returns (process, base URL ending in /v1) pairs."""
    servers = []
    try:
        for _ in range(count):
            process = subprocess.Popen(
                [sys.executable, "-c", SERVER, str(threads), str(parallel)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            address = (process.stdout.readline() if process.stdout else "").strip()
            if not address.startswith("http://127.0.0.1:"):
                process.kill()
                raise RuntimeError(f"a llama.cpp server did not start (it printed {address!r})")
            servers.append((process, address + "/v1"))
    except BaseException:
        stop_servers(servers)
        raise
    return servers


def stop_servers(servers: list[tuple[subprocess.Popen[str], str]]) -> None:
    for process, _ in servers:
        process.kill()
        process.wait()
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                pipe.close()
