"""`fabula persona ...`, `fabula stream simulate` and `fabula stream live`: the virtual streamer
from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from fabula.cli.render import notice
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
    from fabula.service.personas import PersonaStore
    from fabula.settings import get_settings

    loaded, target = PersonaStore(get_settings().ensure_home()).add(card, out)
    notice(f"{loaded.name} → {target}")


@persona.command("export")
@click.argument("card", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--format", "fmt", type=click.Choice(["card-v2", "yaml", "png"]), help="Default: from --out's suffix.")
def export_card(card: Path, out: Path, fmt: str | None) -> None:
    """Write a persona as a Character Card V2 (.json, or inside a .png, for SillyTavern and others)
    or as YAML; the suffix of --out names the format."""
    from fabula.stream.persona import load_persona, save_persona

    save_persona(load_persona(card), out, fmt)
    notice(f"→ {out}")


@persona.command("show")
@click.argument("card", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def show_card(card: Path) -> None:
    from fabula.stream.persona import load_persona

    click.echo(json.dumps(load_persona(card).to_dict(), ensure_ascii=False, indent=2))


@click.group()
def stream() -> None:
    """The virtual streamer: replay a chat against a persona, or go live in an IRC (Twitch) channel
    (and, in `fabula serve`, live chat over a WebSocket)."""


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
    from fabula.service.streams import LiveSession
    from fabula.service.streams import simulate as run_simulation
    from fabula.settings import get_settings
    from fabula.stream.live import Outcome
    from fabula.stream.persona import load_persona

    character = load_persona(persona_file)
    rows = read_chat(chat_file)
    settings = get_settings()
    backend = get_backend(engine or settings.engine, model if model is not None else settings.model, settings)
    params = SamplingParams(temperature=0.8, top_p=0.95, max_tokens=max_tokens, seed=seed)
    session = LiveSession(
        character, backend, settings, params=params, max_batch=max_batch, max_wait=max_wait, remember=not no_memory
    )
    if not as_json:
        notice(f"{character.name} is live: {len(rows)} messages at {rate:g}/s")
    shown: set[int | None] = set()  # batches whose reply was printed (a batch shares one reply)

    def show(outcome: Outcome) -> None:
        if not as_json and outcome.verdict == "answered" and outcome.batch not in shown:
            shown.add(outcome.batch)
            notice(f"[{outcome.message.user}] {outcome.message.text}\n  → {outcome.reply}")

    result = run_simulation(session, rows, rate, show, speak_dir)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
    else:
        notice(json.dumps(result["summary"], indent=1))


@stream.command("live")
@click.argument("persona_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--irc", "address", help="An IRC chat: the server, HOST:PORT (Twitch: irc.chat.twitch.tv:6667).")
@click.option("--channel", help="With --irc: the channel to join, e.g. '#test' (quote the #).")
@click.option("--nick", default="fabula", show_default=True, help="With --irc: the character's nickname.")
@click.option("--youtube", "live_chat_id", help="A YouTube live chat: its liveChatId (token in FABULA_YOUTUBE_TOKEN).")
@click.option("--api", help="With --youtube: the chat API's base URL (default: YouTube Data API v3).")
@click.option(
    "--max-seconds",
    type=click.FloatRange(1),
    default=3600.0,
    show_default=True,
    help="End the stream after this long; queued messages are then skipped.",
)
@click.option(
    "--send-rate",
    default="20/30",
    show_default=True,
    help="At most MESSAGES/SECONDS sent (Twitch: 20/30, 100/30 as a moderator).",
)
@click.option("--max-batch", type=click.IntRange(1, 10), default=3, show_default=True)
@click.option(
    "--max-wait", type=click.FloatRange(1), default=20.0, show_default=True, help="Seconds a message may wait."
)
@click.option("--max-tokens", type=click.IntRange(8, 512), default=80, show_default=True)
@click.option("--seed", type=int, help="Seed the replies.")
@click.option("--no-memory", is_flag=True, help="Neither recall nor remember viewers and streams.")
@click.option("--engine")
@click.option("--model")
@click.option("--json", "as_json", is_flag=True, help="At the end, every message's verdict and the summary as JSON.")
def live(
    persona_file: Path,
    address: str | None,
    channel: str | None,
    nick: str,
    live_chat_id: str | None,
    api: str | None,
    max_seconds: float,
    send_rate: str,
    max_batch: int,
    max_wait: float,
    max_tokens: int,
    seed: int | None,
    no_memory: bool,
    engine: str | None,
    model: str | None,
    as_json: bool,
) -> None:
    """Go live as PERSONA_FILE in a platform's chat, IRC (Twitch speaks it) or YouTube's: every
    viewer message is moderated, ranked and answered in the chat (or skipped) within MAX_WAIT
    seconds, until MAX_SECONDS are up or the platform ends the chat. Secrets come from the
    environment, never the command line, where other users of the machine could read them: an
    IRC server password (Twitch: oauth:TOKEN) from FABULA_IRC_PASSWORD, a YouTube OAuth token
    from FABULA_YOUTUBE_TOKEN."""
    import os

    from fabula.backends import get_backend
    from fabula.sampling import SamplingParams
    from fabula.service.streams import LiveSession, run_live
    from fabula.settings import get_settings
    from fabula.stream.connector import ChatConnector, SendRate
    from fabula.stream.live import Outcome
    from fabula.stream.persona import load_persona

    rate = SendRate(*parse_rate(send_rate))
    chat: ChatConnector
    if (address is None) == (live_chat_id is None):
        raise InvalidParam("--irc/--youtube", address or live_chat_id, "name one chat: --irc HOST:PORT or --youtube ID")
    if address is not None:  # bad arguments are refused before the model loads
        from fabula.stream.irc import IrcChat, parse_address

        if not channel:
            raise InvalidParam("--channel", channel, "an IRC chat needs its channel, e.g. --channel '#test'")
        host, port = parse_address(address)
        chat = IrcChat(host, port, channel, nick, password=os.environ.get("FABULA_IRC_PASSWORD") or None, rate=rate)
        where = f"{channel} on {address}"
    else:
        from fabula.stream.polled import YOUTUBE_API, PolledChat

        assert live_chat_id is not None
        token = os.environ.get("FABULA_YOUTUBE_TOKEN") or None
        chat = PolledChat(live_chat_id, token, api=api or YOUTUBE_API, rate=rate)
        where = f"live chat {live_chat_id}"
    character = load_persona(persona_file)
    settings = get_settings()
    backend = get_backend(engine or settings.engine, model if model is not None else settings.model, settings)
    params = SamplingParams(temperature=0.8, top_p=0.95, max_tokens=max_tokens, seed=seed)
    session = LiveSession(
        character, backend, settings, params=params, max_batch=max_batch, max_wait=max_wait, remember=not no_memory
    )
    if not as_json:
        notice(f"{character.name} is going live in {where} for {max_seconds:g} s")

    def show(outcome: Outcome) -> None:
        if not as_json and outcome.verdict == "answered":
            notice(f"[{outcome.message.user}] {outcome.message.text}\n  → {outcome.reply}")

    result = run_live(session, chat, max_seconds, on_outcome=show)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
    else:
        notice(json.dumps(result["summary"], indent=1))


def parse_rate(value: str) -> tuple[int, float]:
    """MESSAGES/SECONDS, e.g. 20/30."""
    count, sep, seconds = value.partition("/")
    try:
        parsed = int(count), float(seconds)
    except ValueError:
        parsed = (0, 0.0)
    if not sep or parsed[0] < 1 or parsed[1] <= 0:
        raise InvalidParam("--send-rate", value, "MESSAGES/SECONDS, e.g. 20/30 (Twitch's limit for a regular account)")
    return parsed


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
    from fabula.cli.progress import progress_bar
    from fabula.service.streams import check_script_export
    from fabula.service.streams import write_stream_script as write_script
    from fabula.settings import get_settings
    from fabula.stream.persona import load_persona
    from fabula.stream.script import teleprompter

    if persona_file is None:
        raise InvalidParam("--persona", None, "a stream script is written in a persona's voice: --persona FILE")
    check_script_export(export_file)
    character = load_persona(persona_file)
    settings = get_settings()
    engine_name = engine or settings.engine
    backend = get_backend(engine_name, model if model is not None else settings.model, settings)
    with progress_bar(as_json) as on_step:
        work, script = write_script(
            character, topic or "", minutes, backend, engine_name, params, settings, export_file, on_step
        )
    if as_json:
        click.echo(json.dumps({"work_id": work.id, "script": script}, ensure_ascii=False))
    else:
        click.echo(teleprompter(script))
        notice(f"saved work {work.id}: {script['spoken_minutes']} of {minutes} minutes spoken")
