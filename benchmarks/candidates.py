"""Many candidates for about the price of a few: n = 1, 2, 4, 8 candidates, four ways, in one run.

(a) raw xllamacpp, sequential: one request per seed on a one-slot server (fabula before slots);
(b) raw llama.cpp batched: one request with `n` on an 8-slot server, no fabula code: the prompt
    prefilled once, every step decoding all live sequences together. This is the engine's own
    limit on this CPU; (b') the same request as fabula makes it: each token's log-probability
    (its scores read them) and flash attention off (see the engine), the figure fabula is held to;
(c) fabula write: `fabula write story`'s code path (pipeline, cleaning, scoring, saving) on the
    llamacpp engine with its default 8 slots;
(d) fabula write with one slot, the same code path decoding the candidates one after another;
(e) fabula write with 8 slots and flash attention on (`FABULA_LLAMACPP_FLASH_ATTENTION=true`):
    what the reproducibility of (c) costs.

Rows are interleaved (every path at every n in each repeat) and each figure is a median. The same
seeds give the same texts on every path (checked here and by the tests), so the rows do the same
work. Then constrained verse: 20 haiku and 20 sonnets written as 5 requests of n = 4 and as 20
requests of n = 1 on the same seeds; the poems must be identical and all keep their form.

The prompt, seed and sampling are decode.py's (the story form, temperature 0.8, top-k 40, top-p
0.95, min-p 0.05, repetition penalty 1.1).

The arithmetic of the limit: a decode step of a batch of b reads the weights once (their bytes in
the GGUF) and does about 2 x parameters x b multiply-adds; the step time measured at b = 1 and
b = 8 says which of the two bounds this CPU meets.

    python benchmarks/candidates.py [--max-tokens 128] [--repeats 3] [--threads 2] [--json FILE] [--no-verse]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

os.environ.setdefault("FABULA_HOME", tempfile.mkdtemp(prefix="fabula-bench-"))

from decode import PROMPT, SAMPLING, SEED, form_messages  # noqa: E402 - the decode benchmark's request

from fabula.models import default_model_path  # noqa: E402

COUNTS = (1, 2, 4, 8)

Run = Callable[[int], tuple[float, list[str]]]  # n -> (wall seconds, the n texts)


def raw_server(threads: int, slots: int, flash_attention: bool = True):  # noqa: ANN201 - xllamacpp.Server
    """llama.cpp's server as its defaults have it (flash attention on), or as fabula runs it."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    if not flash_attention:
        params.flash_attn_type = xllamacpp.llama_flash_attn_type.LLAMA_FLASH_ATTN_TYPE_DISABLED
    params.model.path = str(default_model_path())
    params.n_ctx = 4096 * slots
    params.n_parallel = slots
    params.kv_unified = False
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.cache_ram_mib = 0
    params.verbosity = -1
    return xllamacpp.Server(params)


def raw_request(server, max_tokens: int, seed: int, n: int, logprobs: bool = False) -> tuple[list[str], list[dict]]:  # noqa: ANN001
    body = {
        **({"logprobs": True, "top_logprobs": 1} if logprobs else {}),
        "messages": form_messages(),
        "max_tokens": max_tokens,
        "seed": seed,
        "n": n,
        "stream": True,
        "cache_prompt": False,
        **{k if k != "repetition_penalty" else "repeat_penalty": v for k, v in SAMPLING.items()},
    }
    texts = [""] * n
    timings: list[dict] = []

    def on_chunk(chunk: dict) -> None:
        choice = (chunk.get("choices") or [{}])[0]
        texts[int(choice.get("index") or 0)] += choice.get("delta", {}).get("content") or ""
        if "timings" in chunk:
            timings.append(chunk["timings"])

    server.handle_chat_completions(body, on_chunk)
    return texts, timings


def raw_sequential(threads: int, max_tokens: int) -> Run:
    server = raw_server(threads, 1)

    def run(n: int) -> tuple[float, list[str]]:
        start = time.perf_counter()
        texts = [raw_request(server, max_tokens, SEED + i, 1)[0][0] for i in range(n)]
        return time.perf_counter() - start, texts

    return run


def raw_batched(threads: int, max_tokens: int) -> tuple[Run, Run, Callable[[int], float]]:
    """The batched run as llama.cpp's defaults have it; the same request as fabula makes it (each
    token's log-probability, which its scores read, and flash attention off, which keeps a
    candidate's bits whatever shares its batch); and the decode step time at batch b from
    llama.cpp's own timings."""
    server = raw_server(threads, 8)
    like_fabula = raw_server(threads, 8, flash_attention=False)

    def run(n: int) -> tuple[float, list[str]]:
        start = time.perf_counter()
        texts, _ = raw_request(server, max_tokens, SEED, n)
        return time.perf_counter() - start, texts

    def run_like_fabula(n: int) -> tuple[float, list[str]]:
        start = time.perf_counter()
        texts, _ = raw_request(like_fabula, max_tokens, SEED, n, logprobs=True)
        return time.perf_counter() - start, texts

    def step_ms(b: int) -> float:
        start = time.perf_counter()
        _, timings = raw_request(server, max_tokens, SEED, b)
        wall = time.perf_counter() - start
        prompt_s = max(t["prompt_ms"] for t in timings) / 1000
        steps = max(t["predicted_n"] for t in timings)
        return 1000 * (wall - prompt_s) / steps

    return run, run_like_fabula, step_ms


def fabula_write(max_tokens: int, slots: int, flash_attention: bool = False) -> Run:
    from fabula.backends.llamacpp import LlamaCppBackend
    from fabula.pipeline import write
    from fabula.sampling import SamplingParams
    from fabula.settings import get_settings
    from fabula.store.works import WorkStore

    update = {"llamacpp_slots": slots, "llamacpp_flash_attention": flash_attention}
    settings = get_settings().model_copy(update=update)
    backend = LlamaCppBackend("", settings)
    store = WorkStore(settings.db_url)

    def run(n: int) -> tuple[float, list[str]]:
        params = SamplingParams(max_tokens=max_tokens, seed=SEED, n=n, **SAMPLING)
        start = time.perf_counter()
        work = write(backend, "story", PROMPT, {}, params)
        store.save(work)
        return time.perf_counter() - start, [c.completion.text for c in work.candidates]

    return run


def candidates_table(args: argparse.Namespace) -> dict:
    paths: dict[str, Run] = {
        "(a) raw xllamacpp, sequential": raw_sequential(args.threads, args.max_tokens),
    }
    batched, like_fabula, step_ms = raw_batched(args.threads, args.max_tokens)
    paths["(b) raw llama.cpp, batched (n in one request)"] = batched
    paths["(b') the same, as fabula asks: log-probabilities, flash attention off"] = like_fabula
    paths["(c) fabula write, 8 slots"] = fabula_write(args.max_tokens, 8)
    paths["(d) fabula write, 1 slot"] = fabula_write(args.max_tokens, 1)
    paths["(e) fabula write, 8 slots, flash attention on"] = fabula_write(args.max_tokens, 8, flash_attention=True)
    for run in paths.values():
        run(1)  # warm-up
    walls: dict[str, dict[int, list[float]]] = {name: {n: [] for n in COUNTS} for name in paths}
    texts: dict[str, dict[int, list[str]]] = {name: {} for name in paths}
    for repeat in range(args.repeats):
        for n in COUNTS:
            for name, run in paths.items():
                wall, out = run(n)
                walls[name][n].append(wall)
                texts[name][n] = out
            print(f"repeat {repeat} n={n}: " + ", ".join(f"{w[n][-1]:.2f}" for w in walls.values()), file=sys.stderr)
    # flash attention changes the last bits, so each path is compared with the sequential run of
    # its own kind: llama.cpp's defaults with (a), fabula's settings with (d)
    sequential = {"(a)": "(a) raw xllamacpp, sequential", "(b)": "(a) raw xllamacpp, sequential"}
    sequential["(e)"] = sequential["(a)"]
    reference = {name: sequential.get(name[:3], "(d) fabula write, 1 slot") for name in paths}
    same = {name: all(texts[name][n] == texts[reference[name]][n] for n in COUNTS) for name in paths}
    medians = {name: {n: statistics.median(w[n]) for n in COUNTS} for name, w in walls.items()}
    steps = {b: statistics.median(step_ms(b) for _ in range(3)) for b in (1, 8)}
    return {"medians": medians, "same_texts": same, "step_ms": steps}


def verse_table(threads: int) -> list[dict]:
    from fabula.backends.llamacpp import LlamaCppBackend
    from fabula.pipeline import write
    from fabula.sampling import SamplingParams
    from fabula.settings import get_settings

    backend = LlamaCppBackend("", get_settings())
    rows = []
    for form in ("haiku", "sonnet"):
        prompt = "the tide going out at dusk"
        start = time.perf_counter()
        together, redone = [], set()
        for k in range(5):
            work = write(backend, "poem", prompt, {"form": form}, SamplingParams(seed=100 + 4 * k, n=4))
            together += work.candidates
            redone |= {4 * k + r["candidate"] for r in work.provenance.get("resampled", [])}
        wall_n4 = time.perf_counter() - start
        start = time.perf_counter()
        alone = []
        for i in range(20):
            work = write(backend, "poem", prompt, {"form": form}, SamplingParams(seed=100 + i))
            alone.append(work.candidates[0])
            redone |= {i for _ in work.provenance.get("resampled", [])}
        wall_n1 = time.perf_counter() - start
        # a candidate with a defect is sampled again on a seed after the request's last (seed + n + k),
        # which differs between one request of 4 and four of 1; the others must be identical
        kept = [i for i in range(20) if i not in redone]
        rows.append(
            {
                "form": form,
                "wall_n4_s": wall_n4,
                "wall_n1_s": wall_n1,
                "kept_n4": sum(bool(c.checks and c.checks["ok"]) for c in together),
                "kept_n1": sum(bool(c.checks and c.checks["ok"]) for c in alone),
                "resampled": len(redone),
                "identical": all(together[i].text == alone[i].text for i in kept),
            }
        )
        print(rows[-1], file=sys.stderr)
    return rows


def weight_bytes_and_params() -> tuple[int, int]:
    """The GGUF's tensor bytes (all read once per step: the embedding doubles as the output layer)
    and its parameter count."""
    import math

    from fabula.gguf_header import read_header, tensor_bytes

    tensors = read_header(default_model_path()).tensors
    return sum(tensor_bytes(t) for t in tensors), sum(math.prod(t.shape) for t in tensors)


def markdown(result: dict, args: argparse.Namespace) -> str:
    medians = result["medians"]
    lines = [
        f"Measured {date.today()} on {platform.machine()}, {os.cpu_count()} cores, {args.threads} threads, "
        f"{args.max_tokens} tokens per candidate, median of {args.repeats} interleaved runs.",
        "",
        "| path | "
        + " | ".join(f"n={n} (s)" for n in COUNTS)
        + " | n=8 ÷ its n=1 | n=8 ÷ (b) | n=8 ÷ (b') | same texts |",
        "|---|" + "---:|" * len(COUNTS) + "---:|---:|---:|---|",
    ]
    limit = medians["(b) raw llama.cpp, batched (n in one request)"][8]
    like = next(row for name, row in medians.items() if name.startswith("(b')"))[8]
    for name, row in medians.items():
        cells = " | ".join(f"{row[n]:.2f}" for n in COUNTS)
        same = "yes" if result["same_texts"][name] else "no"
        lines.append(
            f"| {name} | {cells} | {row[8] / row[1]:.2f} | {row[8] / limit:.2f} | {row[8] / like:.2f} | {same} |"
        )
    size, params = result["weights"]
    steps = result["step_ms"]
    flops = 2 * params
    lines += [
        "",
        f"Decode step of the raw batched server: {steps[1]:.1f} ms at batch 1, {steps[8]:.1f} ms at batch 8 "
        f"({steps[8] / steps[1]:.2f}×). Weights read per step: {size / 1e6:.0f} MB "
        f"({size / 1e6 / steps[1]:.1f} GB/s at batch 1); multiply-adds: {flops / 1e9:.2f} GFLOP per sequence, "
        f"{8 * flops / steps[8] / 1e6:.1f} GFLOP/s at batch 8.",
        "",
        "| form | poems | kept, n=4 | kept, n=1 | wall n=4 ×5 (s) | wall n=1 ×20 (s) | ratio | resampled | "
        "identical, the others |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in result["verse"]:
        lines.append(
            f"| {row['form']} | 20 | {row['kept_n4']}/20 | {row['kept_n1']}/20 | {row['wall_n4_s']:.1f} | "
            f"{row['wall_n1_s']:.1f} | {row['wall_n4_s'] / row['wall_n1_s']:.2f} | {row['resampled']} | "
            f"{'yes' if row['identical'] else 'no'} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=int(os.environ.get("FABULA_THREADS", os.cpu_count() or 1)))
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--no-verse", action="store_true", help="leave out the constrained verse rows")
    args = parser.parse_args()
    os.environ["FABULA_THREADS"] = str(args.threads)
    result = candidates_table(args)
    result["weights"] = weight_bytes_and_params()
    result["verse"] = [] if args.no_verse else verse_table(args.threads)
    print(markdown(result, args))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
