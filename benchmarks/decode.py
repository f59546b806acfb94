"""Decode speed of the default model on this machine, four ways, measured side by side in one run.

(a) raw xllamacpp: the Server's chat handler called directly, no fabula code;
(b) fabula llamacpp: `fabula write`'s code path (pipeline + cleaning + scoring + saving a work);
(c) fabula hf: the same path on the Transformers engine (our own decode loop);
(d) plain Transformers `generate` on the same dequantized model (the seed project's approach).

Every row asks for the same prompt, seed and sampling settings, `max_tokens` tokens per candidate,
at batch 1 and with n=4 candidates. Decode tok/s counts tokens after the first over the time
after the first; first-token latency includes prompt prefill. Each figure is the median of
`--repeats` runs. The table gives ratios to raw xllamacpp, and the hf rows against the memory-
bandwidth ceiling (fp32 weight bytes read per token / measured read bandwidth).

    python benchmarks/decode.py [--max-tokens 128] [--repeats 3] [--threads 2] [--markdown FILE]
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

from fabula.models import default_model_path  # noqa: E402

PROMPT = "A lighthouse keeper finds a message in a bottle addressed to her."
SEED = 1234
SAMPLING = {"temperature": 0.8, "top_k": 40, "top_p": 0.95, "min_p": 0.05, "repetition_penalty": 1.1}

Measure = Callable[[int], tuple[float, float, int]]  # n -> (first_token_s, wall_s, tokens)


def median_of(measure: Measure, n: int, repeats: int) -> dict[str, float]:
    """Medians over repeats. decode tok/s = (tokens - n) / (wall - first token): the same formula
    for every path, so with n=4 it includes the later candidates' prefills where a path runs
    candidates one after another."""
    runs = [measure(n) for _ in range(repeats)]
    return {
        "first_token_s": statistics.median(r[0] for r in runs),
        "decode_tok_s": statistics.median((r[2] - n) / (r[1] - r[0]) for r in runs),
        "wall_s": statistics.median(r[1] for r in runs),
        "tokens": statistics.median(r[2] for r in runs),
    }


def form_messages() -> list[dict[str, str]]:
    from fabula.forms import get_form

    rendered = get_form("story").render(PROMPT, {})
    return [{"role": m.role, "content": m.content} for m in rendered.messages]


def raw_xllamacpp(threads: int, max_tokens: int) -> Measure:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(default_model_path())
    params.n_ctx = 4096
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.verbosity = -1
    server = xllamacpp.Server(params)
    messages = form_messages()

    def one(seed: int) -> tuple[float, float, int]:
        body = {
            "messages": messages,
            "max_tokens": max_tokens,
            "seed": seed,
            "stream": True,
            "cache_prompt": False,
            **{k if k != "repetition_penalty" else "repeat_penalty": v for k, v in SAMPLING.items()},
        }
        marks: list[float] = []
        start = time.perf_counter()

        def on_chunk(chunk: dict) -> None:
            delta = (chunk.get("choices") or [{}])[0].get("delta", {}).get("content")
            if delta:
                marks.append(time.perf_counter())

        server.handle_chat_completions(body, on_chunk)
        return marks[0] - start, time.perf_counter() - start, len(marks)

    def measure(n: int) -> tuple[float, float, int]:
        start = time.perf_counter()
        runs = [one(SEED + i) for i in range(n)]
        return runs[0][0], time.perf_counter() - start, sum(r[2] for r in runs)

    return measure


def fabula_engine(engine: str, max_tokens: int) -> Measure:
    from fabula.backends import get_backend
    from fabula.pipeline import write
    from fabula.sampling import SamplingParams
    from fabula.settings import get_settings
    from fabula.store.works import WorkStore

    settings = get_settings()
    backend = get_backend(engine, "", settings)
    store = WorkStore(settings.db_url)

    def measure(n: int) -> tuple[float, float, int]:
        params = SamplingParams(max_tokens=max_tokens, seed=SEED, n=n, **SAMPLING)
        marks: list[float] = []
        start = time.perf_counter()
        work = write(backend, "story", PROMPT, {}, params, on_text=lambda i, d: marks.append(time.perf_counter()))
        store.save(work)
        end = time.perf_counter()
        tokens = sum(c.completion.completion_tokens for c in work.candidates)
        return marks[0] - start, end - start, tokens

    return measure


def plain_generate(max_tokens: int, threads: int) -> tuple[Measure, int]:
    """Transformers generate on the fp32 model; also returns the Linear parameter count (the
    weights read once per decoded token: lm_head is tied to the embedding and read whole)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.generation.streamers import BaseStreamer

    from fabula.backends.hf import convert_gguf
    from fabula.settings import get_settings

    torch.set_num_threads(threads)
    folder = convert_gguf(default_model_path(), get_settings().ensure_home() / "cache")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    linear_params = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    encoded = tokenizer.apply_chat_template(form_messages(), add_generation_prompt=True, return_tensors="pt")
    ids = encoded["input_ids"] if hasattr(encoded, "keys") else encoded

    class FirstToken(BaseStreamer):
        def __init__(self) -> None:
            self.calls: list[float] = []

        def put(self, value: object) -> None:
            self.calls.append(time.perf_counter())

        def end(self) -> None:
            pass

    def measure(n: int) -> tuple[float, float, int]:
        torch.manual_seed(SEED)
        streamer = FirstToken()
        start = time.perf_counter()
        out = model.generate(
            ids.repeat(n, 1),
            do_sample=True,
            max_new_tokens=max_tokens,
            streamer=streamer if n == 1 else None,
            temperature=SAMPLING["temperature"],
            top_k=SAMPLING["top_k"],
            top_p=SAMPLING["top_p"],
            min_p=SAMPLING["min_p"],
            repetition_penalty=SAMPLING["repetition_penalty"],
            pad_token_id=tokenizer.eos_token_id,
        )
        end = time.perf_counter()
        new = out[:, ids.shape[1] :]
        tokens = int((new != tokenizer.eos_token_id).sum())
        steps = new.shape[1]
        first = (streamer.calls[1] - start) if n == 1 and len(streamer.calls) > 1 else (end - start) / steps
        return first, end - start, tokens

    return measure, linear_params


def read_bandwidth_gbs() -> float:
    """Read bandwidth from summing a 512 MiB fp32 array (best of 5), in GB/s."""
    import torch

    data = torch.ones(128 * 1024 * 1024)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        data.sum()
        best = min(best, time.perf_counter() - start)
    return data.numel() * 4 / best / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=int(os.environ.get("FABULA_THREADS", os.cpu_count() or 1)))
    parser.add_argument("--markdown", type=Path, help="also write the Markdown table here")
    args = parser.parse_args()
    os.environ["FABULA_THREADS"] = str(args.threads)

    rows: list[tuple[str, int, dict[str, float]]] = []
    setups: list[tuple[str, Callable[[], Measure]]] = [
        ("(a) raw xllamacpp", lambda: raw_xllamacpp(args.threads, args.max_tokens)),
        ("(b) fabula llamacpp", lambda: fabula_engine("llamacpp", args.max_tokens)),
        ("(c) fabula hf, fp32", lambda: fabula_engine("hf", args.max_tokens)),
    ]
    for name, build in setups:
        measure = build()
        measure(1)  # warm-up
        for n in (1, 4):
            rows.append((name, n, median_of(measure, n, args.repeats)))
            print(f"{name:30} n={n}  {rows[-1][2]}", file=sys.stderr)
    generate, linear_params = plain_generate(args.max_tokens, args.threads)
    generate(1)
    for n in (1, 4):
        rows.append(("(d) Transformers generate, fp32", n, median_of(generate, n, args.repeats)))
        print(f"(d) generate n={n}  {rows[-1][2]}", file=sys.stderr)
    bandwidth = read_bandwidth_gbs()
    table = markdown(rows, args, bandwidth, linear_params)
    print(table)
    if args.markdown:
        args.markdown.write_text(table)
    print(
        json.dumps(
            {
                "rows": [{"path": r[0], "n": r[1], **r[2]} for r in rows],
                "bandwidth_gbs": bandwidth,
                "linear_params": linear_params,
            }
        ),
        file=sys.stderr,
    )


def markdown(rows: list, args: argparse.Namespace, bandwidth: float, linear_params: int) -> str:
    base = {n: stats for name, n, stats in rows if name.startswith("(a)")}
    ceiling = bandwidth * 1e9 / (4 * linear_params)
    lines = [
        f"Measured {date.today()} on {platform.machine()}, {os.cpu_count()} cores, {args.threads} threads, "
        f"{args.max_tokens} tokens per candidate, median of {args.repeats}; SmolLM2-135M-Instruct "
        "(Q4_1 GGUF on llama.cpp; dequantized for Transformers).",
        "",
        "| path | n | first token (s) | decode tok/s | wall (s) | × raw xllamacpp | % of bandwidth ceiling |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, n, stats in rows:
        ratio = stats["decode_tok_s"] / base[n]["decode_tok_s"]
        share = (
            f"{100 * stats['decode_tok_s'] / ceiling:.0f}% of {ceiling:.0f}"
            if name[:3] in ("(c)", "(d)") and n == 1
            else ""
        )
        lines.append(
            f"| {name} | {n} | {stats['first_token_s']:.3f} | {stats['decode_tok_s']:.1f} | "
            f"{stats['wall_s']:.2f} | {ratio:.2f} | {share} |"
        )
    lines += [
        "",
        f"Ceiling: read bandwidth {bandwidth:.1f} GB/s (summing a 512 MiB tensor) over the weights read per "
        f"decoded token ({linear_params / 1e6:.0f} M Linear weights, lm_head included: "
        f"{4 * linear_params / 1e6:.0f} MB in fp32).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
