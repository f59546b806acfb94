"""`fabula persona ...` and `fabula stream simulate`: the virtual streamer from the command line."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

import click

from fabula.errors import InvalidParam


@click.group()
def persona() -> None:
    """Persona cards: plain YAML, or SillyTavern's Character Card V2 (JSON or PNG)."""


@persona.command("import")
@click.argument("card", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o", "--out", type=click.Path(dir_okay=False, path_type=Path), help="Default: FABULA_HOME/personas/NAME.yaml"
)
def import_card(card: Path, out: Path | None) -> None:
    """Read a card (YAML, Character Card V2 JSON or PNG) and save it as fabula's YAML."""
    from fabula.settings import get_settings
    from fabula.stream.persona import load_persona, save_persona

    loaded = load_persona(card)
    target = out or get_settings().ensure_home() / "personas" / f"{_slug(loaded.name)}.yaml"
    save_persona(loaded, target)
    click.echo(f"{loaded.name} → {target}", err=True)


@persona.command("export")
@click.argument("card", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--format", "fmt", type=click.Choice(["card-v2", "yaml"]), default="card-v2", show_default=True)
def export_card(card: Path, out: Path, fmt: str) -> None:
    """Write a persona as a Character Card V2 (for SillyTavern and others) or as YAML."""
    from fabula.stream.persona import load_persona, save_persona

    save_persona(load_persona(card), out, fmt)
    click.echo(f"→ {out}", err=True)


@persona.command("show")
@click.argument("card", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def show_card(card: Path) -> None:
    from fabula.stream.persona import load_persona

    click.echo(json.dumps(load_persona(card).to_dict(), ensure_ascii=False, indent=2))


def _slug(name: str) -> str:
    import re

    return re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-") or "persona"


@click.group()
def stream() -> None:
    """The virtual streamer: replay a chat against a persona (and, in `fabula serve`, live chat)."""


def read_chat(path: Path) -> list[dict[str, Any]]:
    """One message a line: `text`, `name: text`, or JSON {"user", "text", "donation"}."""
    import re

    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        if line.lstrip().startswith("{"):
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidParam("chat", f"{path.name}:{number}", f"is not JSON ({exc.msg})") from None
            if not isinstance(data.get("text"), str):
                raise InvalidParam("chat", f"{path.name}:{number}", 'a JSON line needs "text"')
            donation = data.get("donation", 0)
            if isinstance(donation, bool) or not isinstance(donation, (int, float)) or donation < 0:
                raise InvalidParam("donation", donation, f"{path.name}:{number}: a number, 0 or more")
            rows.append(
                {"user": str(data.get("user") or "viewer")[:40], "text": data["text"], "donation": float(donation)}
            )
            continue
        match = re.match(r"^\s*([\w.@-]{1,40}):\s+(.*)$", line)
        user, text = (match.group(1), match.group(2)) if match else ("viewer", line.strip())
        rows.append({"user": user, "text": text, "donation": 0.0})
    if not rows:
        raise InvalidParam("chat", str(path), "has no messages (one message a line)")
    return rows


@stream.command("simulate")
@click.option("--persona", "persona_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--chat", "chat_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option(
    "--rate", type=click.FloatRange(0), default=5.0, show_default=True, help="Messages per second (0: all at once)."
)
@click.option("--max-batch", type=click.IntRange(1, 10), default=3, show_default=True)
@click.option(
    "--max-wait", type=click.FloatRange(1), default=20.0, show_default=True, help="Seconds a message may wait."
)
@click.option("--max-tokens", type=click.IntRange(8, 512), default=80, show_default=True)
@click.option("--seed", type=int, help="Seed the replies (reproducible with the same arrival order).")
@click.option(
    "--speak", "speak_dir", type=click.Path(file_okay=False, path_type=Path), help="Write each reply as a WAV here."
)
@click.option("--no-memory", is_flag=True, help="Neither recall nor remember viewers and streams.")
@click.option("--engine")
@click.option("--model")
@click.option("--json", "as_json", is_flag=True)
def simulate(
    persona_file: Path,
    chat_file: Path,
    rate: float,
    max_batch: int,
    max_wait: float,
    max_tokens: int,
    seed: int | None,
    speak_dir: Path | None,
    no_memory: bool,
    engine: str | None,
    model: str | None,
    as_json: bool,
) -> None:
    """Replay a chat log at RATE messages a second against a persona: every message is moderated,
    de-duplicated, ranked, and answered in batches or skipped within MAX_WAIT seconds."""
    from fabula.backends import get_backend
    from fabula.sampling import SamplingParams
    from fabula.settings import get_settings
    from fabula.stream.live import ChatMessage, LiveChat, Outcome, audience_policy, replay
    from fabula.stream.memory import StreamMemory
    from fabula.stream.persona import load_persona

    character = load_persona(persona_file)
    rows = read_chat(chat_file)
    if speak_dir is not None:
        from fabula.stream.speech import find_espeak

        find_espeak()  # say so before the replay, not after it
    settings = get_settings()
    backend = get_backend(engine or settings.engine, model if model is not None else settings.model, settings)
    memory = None if no_memory else StreamMemory(settings.db_url, character.name)
    params = SamplingParams(temperature=0.8, top_p=0.95, max_tokens=max_tokens, seed=seed)
    chat = LiveChat(character, backend, audience_policy(settings.safety), memory, params, max_batch, max_wait)
    outcomes: dict[int, Outcome] = {}
    started = time.monotonic()
    messages = [ChatMessage(i, r["user"], r["text"], r["donation"]) for i, r in enumerate(rows)]
    if not as_json:
        click.echo(f"{character.name} is live: {len(messages)} messages at {rate:g}/s", err=True)

    shown: set[int | None] = set()  # batches whose reply was printed (a batch shares one reply)

    def record(outcome: Outcome) -> None:
        outcomes[outcome.message.id] = outcome
        if not as_json and outcome.verdict == "answered" and outcome.batch not in shown:
            shown.add(outcome.batch)
            click.echo(f"[{outcome.message.user}] {outcome.message.text}\n  → {outcome.reply}", err=True)

    replay(chat, messages, rate, record)
    seconds = time.monotonic() - started
    replies = [outcomes[m.id].to_dict() for m in messages]
    if speak_dir is not None:
        _speak(replies, character, speak_dir)
    if memory is not None:
        _remember(chat, memory, replies)
    summary = _summary(replies, seconds, chat)
    if as_json:
        click.echo(json.dumps({"replies": replies, "summary": summary}, ensure_ascii=False))
    else:
        click.echo(json.dumps(summary, indent=1), err=True)


def _speak(replies: list[dict[str, Any]], character: Any, folder: Path) -> None:
    """One WAV per reply (a batch's reply once), on a timeline: each starts when the last ends."""
    from fabula.stream.speech import speak

    clock = 0.0
    spoken: dict[int, dict[str, Any]] = {}
    for row in replies:
        if row["verdict"] != "answered":
            continue
        batch = row["batch"]
        if batch not in spoken:
            path = folder / f"reply_{batch:04d}.wav"
            seconds = speak(row["reply"], path, character.voice, character.rate_wpm)
            spoken[batch] = {"file": str(path), "start_s": round(clock, 2), "seconds": round(seconds, 2)}
            clock += seconds
        row["audio"] = spoken[batch]


def _remember(chat: Any, memory: Any, replies: list[dict[str, Any]]) -> None:
    """A summary of this stream for the next one, from the answered messages (as data)."""
    from fabula.stream.memory import topic_words

    answered = [r for r in replies if r["verdict"] == "answered"]
    if not answered:
        return
    from collections import Counter

    topics = Counter(w for r in answered for w in topic_words(r["message"])).most_common(8)
    viewers = Counter(r["user"] for r in answered).most_common(5)
    text = (
        f"A stream where chat talked about {', '.join(w for w, _ in topics) or 'many things'}; "
        f"most active: {', '.join(v for v, _ in viewers)}; {len(answered)} messages answered."
    )
    memory.remember_stream(text, {"topics": dict(topics), "viewers": dict(viewers), "answered": len(answered)})


def _summary(replies: list[dict[str, Any]], seconds: float, chat: Any) -> dict[str, Any]:
    from collections import Counter

    latencies = sorted(r["latency_s"] for r in replies if r["verdict"] == "answered")
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else None  # noqa: E731
    return {
        "messages": len(replies),
        "verdicts": dict(Counter(r["verdict"] for r in replies)),
        "batches": chat.batches,
        "latency_p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "latency_p95_s": p(0.95),
        "seconds": round(seconds, 1),
    }


def write_stream_script(
    persona_file: Path | None,
    topic: str | None,
    minutes: int,
    engine: str | None,
    model: str | None,
    params: Any,
    export_file: Path | None,
    as_json: bool,
) -> None:
    """`fabula write stream-script --persona P --topic T --minutes M`: plan, write, time, save."""
    from fabula.backends import get_backend
    from fabula.cli.plan import _progress
    from fabula.responsible.review import export_manifest, review_and_save
    from fabula.settings import get_settings
    from fabula.store.works import WorkStore, write_atomic
    from fabula.stream.persona import load_persona
    from fabula.stream.script import script_work, teleprompter, write_script

    if persona_file is None:
        raise InvalidParam("--persona", None, "a stream script is written in a persona's voice: --persona FILE")
    if export_file is not None and export_file.suffix not in (".json", ".txt"):
        raise InvalidParam(
            "--export", str(export_file), "a script exports as .json (segments and timings) or .txt (teleprompter)"
        )
    character = load_persona(persona_file)
    settings = get_settings()
    store = WorkStore(settings.db_url)
    backend = get_backend(engine or settings.engine, model if model is not None else settings.model, settings)
    params = params.with_(max_tokens=min(params.max_tokens, 200))
    progress, on_step = _progress(as_json)
    if progress is not None:
        with progress:
            script = write_script(backend, character, topic or "", minutes, params, on_step)
    else:
        script = write_script(backend, character, topic or "", minutes, params, on_step)
    info = {**backend.model_info(), "engine": engine or settings.engine}
    work = review_and_save(script_work(script, character, info, params), settings, store)
    if export_file is not None:
        body = (
            json.dumps(script, ensure_ascii=False, indent=1) + "\n"
            if export_file.suffix == ".json"
            else teleprompter(script)
        )
        write_atomic(export_file, body)
        export_manifest(store.get(work.id), export_file, settings)
    if as_json:
        click.echo(json.dumps({"work_id": work.id, "script": script}, ensure_ascii=False))
    else:
        click.echo(teleprompter(script))
        click.echo(f"saved work {work.id}: {script['spoken_minutes']} of {minutes} minutes spoken", err=True)
