"""`fabula write FORM [PROMPT]`: generate, stream, save, and say where and how."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from fabula.errors import InvalidParam, Rejected
from fabula.forms import FORMS
from fabula.post.rank import Ranker
from fabula.sampling import SamplingParams
from fabula.settings import get_settings

PLANNED = ("screenplay",)  # long forms written by a plan (see `fabula plan`); story too with --long


def parse_sets(pairs: tuple[str, ...]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidParam("--set", pair, "must look like KEY=VALUE, e.g. --set genre=mystery")
        values[key.strip()] = value
    return values


def build_params(options: dict[str, Any]) -> SamplingParams:
    fields = (
        "max_tokens",
        "temperature",
        "top_k",
        "top_p",
        "min_p",
        "typical_p",
        "repetition_penalty",
        "presence_penalty",
        "frequency_penalty",
        "seed",
        "n",
        "epsilon",
        "no_repeat_ngram",
        "dry_multiplier",
        "dry_base",
        "dry_allowed_length",
        "xtc_probability",
        "xtc_threshold",
    )
    given = {name: options[name] for name in fields if options.get(name) is not None}
    if options.get("creativity") is not None:
        from fabula.decoding.creativity import preset

        given = {**preset(options["creativity"]), **given}
    if options.get("stop"):
        given["stop"] = tuple(options["stop"])
    if options.get("ban"):
        given["ban_phrases"] = tuple(options["ban"])
    return SamplingParams.from_mapping(given)


def _chinese_verse(form: str, inputs: dict[str, str]) -> bool:
    from fabula.forms.poem import CHINESE

    return (form == "poem" and inputs.get("form") in CHINESE) or (form == "lyrics" and inputs.get("language") == "zh")


@click.command()
@click.argument("form", type=click.Choice((*FORMS, *PLANNED, "stream-script")))
@click.argument("prompt", required=False)
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Form input, e.g. genre=mystery.")
@click.option("--engine", help="llamacpp (default), hf, openai or fake.")
@click.option("--model", help="GGUF path, Hugging Face folder, GPT name/folder, or server model name.")
@click.option(
    "--adapter",
    type=click.Path(file_okay=False, path_type=Path),
    help="PEFT LoRA adapter folder (from `fabula train finetune`), hf engine.",
)
@click.option("--n", type=int, help="Number of candidates (1-16); the best is chosen.")
@click.option("--seed", type=int, help="Seed; candidate i uses seed+i. Random if omitted (and recorded).")
@click.option("--max-tokens", type=int)
@click.option(
    "--creativity",
    type=float,
    help="0 (predictable) to 1 (adventurous): a measured sampler preset; explicit sampler flags win.",
)
@click.option("--temperature", type=float, help="0 is greedy.")
@click.option("--top-k", type=int)
@click.option("--top-p", type=float)
@click.option("--min-p", type=float)
@click.option("--typical-p", type=float)
@click.option("--repetition-penalty", type=float)
@click.option("--presence-penalty", type=float)
@click.option("--frequency-penalty", type=float)
@click.option("--stop", multiple=True, help="Stop string (repeatable).")
@click.option("--ban", multiple=True, help="Phrase to undo by backtracking when it appears (repeatable).")
@click.option("--epsilon", type=float, help="Epsilon sampling cut-off (hf engine).")
@click.option("--no-repeat-ngram", type=int, help="Ban repeating any n-gram of this size (hf engine).")
@click.option("--dry-multiplier", type=float, help="DRY repetition penalty strength (0 = off).")
@click.option("--dry-base", type=float)
@click.option("--dry-allowed-length", type=int)
@click.option("--xtc-probability", type=float, help="XTC: chance per step to exclude the top choices (0 = off).")
@click.option("--xtc-threshold", type=float)
@click.option(
    "--melody",
    "melody_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="lyrics: also compose a melody and write it here as MIDI (lyrics embedded).",
)
@click.option(
    "--abc",
    "abc_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="lyrics: also write the melody here in ABC notation.",
)
@click.option(
    "--wav",
    "wav_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="lyrics: also render the melody to audio (needs fluidsynth and a GM soundfont).",
)
@click.option(
    "--rank",
    "rank_spec",
    help="Best-of-n scorer weights, e.g. likelihood=1,compliance=2,distance=1 (terms: likelihood, "
    "repetition, compliance, distance).",
)
@click.option(
    "--export",
    "export_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the work here, in the format its suffix names (npc: .yarn .ink .json; quest: .json; "
    "screenplay: .fountain .html .pdf .json; story --long: .md .epub .json).",
)
@click.option(
    "--long",
    is_flag=True,
    help="story: plan it (characters, beats, chapters) and write it chapter by chapter; "
    "--set template=three-act|hero-journey|save-the-cat|kishotenketsu, --set cast=N.",
)
@click.option(
    "--watermark",
    is_flag=True,
    help="Mark the text with a green-list watermark keyed by FABULA_WATERMARK_KEY (llamacpp, hf); "
    "check it with `fabula watermark detect`.",
)
@click.option(
    "--user",
    "user_id",
    help="Write for this user: their preferences fill unset inputs, and their own writing (edits, "
    "accepted works) is given as exemplars of their voice.",
)
@click.option(
    "--safety",
    "safety_spec",
    help="Safety levels for this run, e.g. hate=low,graphic_violence=medium (low|medium|high|off); "
    "core categories keep their floor whatever is asked.",
)
@click.option("--explain", is_flag=True, help="Show every candidate's scores and verdicts, and why the winner won.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (the work) and nothing else.")
@click.option("--no-stream", is_flag=True, help="Print the text when done instead of as it is written.")
@click.option(
    "--persona",
    "persona_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="stream-script: the persona card (YAML, or Character Card V2 JSON/PNG).",
)
@click.option("--topic", help="stream-script: what the show is about.")
@click.option("--minutes", type=click.IntRange(1, 240), help="stream-script: the show's length.")
def write(
    form: str,
    prompt: str | None,
    sets: tuple[str, ...],
    engine: str | None,
    model: str | None,
    adapter: Path | None,
    melody_path: Path | None,
    abc_path: Path | None,
    wav_path: Path | None,
    rank_spec: str | None,
    export_file: Path | None,
    long: bool,
    watermark: bool,
    user_id: str | None,
    safety_spec: str | None,
    explain: bool,
    as_json: bool,
    no_stream: bool,
    persona_file: Path | None,
    topic: str | None,
    minutes: int | None,
    **options: Any,
) -> None:
    """Write a FORM (story, poem, lyrics) from PROMPT with a language model, and save it."""
    if form == "stream-script":
        from fabula.cli.stream import write_stream_script

        return write_stream_script(persona_file, topic or prompt, minutes or 30, engine, model, build_params(options),
                                   export_file, as_json)  # fmt: skip
    for name, value in (("--persona", persona_file), ("--topic", topic), ("--minutes", minutes)):
        if value is not None:
            raise InvalidParam(name, str(value), "is for `fabula write stream-script`")
    from fabula.backends import get_backend
    from fabula.pipeline import write as run_pipeline
    from fabula.responsible.review import export_manifest, gate, review_and_save
    from fabula.responsible.safety import SafetyPolicy
    from fabula.store.works import WorkStore, provenance_line, write_atomic

    settings = get_settings()
    if safety_spec is not None:
        SafetyPolicy.parse(safety_spec)  # a bad category or a level under the floor fails here
        settings = settings.model_copy(update={"safety": safety_spec})
    if long and form != "story":
        raise InvalidParam("--long", form, "only a story is written long on request (a screenplay always is)")
    if (form in PLANNED or long) and user_id:
        raise InvalidParam("--user", user_id, "long forms are not personalized yet", hint="leave --user off")
    if (form in PLANNED or long) and watermark:
        raise InvalidParam("--watermark", form, "long forms are not watermarked yet", hint="leave --watermark off")
    if form in PLANNED or long:
        from fabula.cli.plan import write_planned

        if adapter is not None:
            settings = settings.model_copy(update={"adapter": str(adapter)})
        return write_planned(
            form, prompt, parse_sets(sets), engine, model, build_params(options), export_file, as_json, settings
        )
    if adapter is not None:
        if (engine or settings.engine) != "hf":
            raise InvalidParam(
                "--adapter", str(adapter), "adapters are applied on the hf engine", hint="add --engine hf"
            )
        settings = settings.model_copy(update={"adapter": str(adapter)})
    params = build_params(options)
    inputs = parse_sets(sets)
    ranker = Ranker.parse(rank_spec)
    if export_file is not None:
        from fabula.forms import get_form

        formats = get_form(form).exports
        if export_file.suffix.lower() not in formats:
            raise InvalidParam(
                "--export",
                str(export_file),
                f"{form} exports to {', '.join(formats) or 'no file format yet'}",
                hint="use `fabula works export ID` for md, txt or json of any work",
            )
    asked = melody_path or abc_path or wav_path
    if asked and form != "lyrics":
        raise InvalidParam("--melody/--abc/--wav", str(asked), "only the lyrics form has a melody")
    if wav_path:
        from fabula.music.audio import find_synth

        find_synth()  # no synthesizer: say so before writing anything
    store = WorkStore(settings.db_url)  # open (and migrate) before the slow part: fail early
    # a song, and Chinese verse (one line per clause), is laid out only when complete
    stream = not (as_json or no_stream or form == "lyrics" or _chinese_verse(form, inputs))
    engine_name = engine or settings.engine
    if engine is None and "FABULA_ENGINE" not in os.environ and _chinese_verse(form, inputs):
        engine_name = "gpt"  # the default model writes no Chinese; our Tang-poem model does
    if not as_json:
        click.echo(f"loading {engine_name} engine…", err=True)
    backend = get_backend(engine_name, model if model is not None else settings.model, settings)
    on_text = _streamer(params.n) if stream else None
    key = None
    if watermark:
        from fabula.responsible.watermark import load_or_create_key

        key = load_or_create_key(settings.watermark_key, settings.ensure_home())
    policy = SafetyPolicy.parse(settings.safety)
    voice = _voice(user_id, form, prompt, inputs, store, settings) if user_id else None
    work = run_pipeline(
        backend, form, prompt, inputs, params, on_text, ranker=ranker, watermark_key=key, safety=policy, voice=voice
    )

    def notice(source: str) -> None:
        if stream:
            click.echo(err=True)  # end the streamed line first
        indexing_notice(source)

    work = review_and_save(work, settings, store, safety=policy, on_build=None if as_json else notice)
    export_path = settings.home / "works" / f"{work.id}.md"
    write_atomic(export_path, store.export(work.id, "md"))
    export_manifest(store.get(work.id), export_path, settings)
    melody = _melody(work, melody_path, abc_path, wav_path) if asked else None
    for path in (melody or {}).get("files", []):
        export_manifest(store.get(work.id), Path(path), settings)  # every exported file has its manifest
    if export_file is not None and work.provenance["post"]["passed"]:
        from fabula.forms import get_form

        gate(work.provenance, settings, "export")
        write_atomic(export_file, get_form(form).exports[export_file.suffix.lower()](work.text))
        export_manifest(store.get(work.id), export_file, settings)
        if not as_json:
            click.echo(f"exported → {export_file} (provenance beside it)", err=True)
    if as_json:
        click.echo(json.dumps(work.to_json() | ({"melody": melody} if melody else {}), ensure_ascii=False))
    else:
        if stream and params.n == 1:
            click.echo()
        else:
            click.echo(work.text)
        if explain:
            explain_choice(work)
        _report(work, export_path, settings.db_url, provenance_line(work.provenance))
        if melody:
            click.echo(
                f"melody: {melody['notes']} notes in {melody['key']} major, {melody['meter']}, "
                f"{melody['tempo']} bpm; stressed syllables on {melody['strong_beat_stress']:.0%} of strong beats"
                f" → {', '.join(str(p) for p in melody['files'])}",
                err=True,
            )
    if not work.provenance["post"]["passed"]:
        failed = [
            v["check"] + ": " + v["detail"]
            for v in work.candidates[work.provenance["post"]["chosen_index"]].verdicts
            if not v["passed"] and v["severity"] == "error"
        ]
        raise Rejected(f"work {work.id} was saved, but no candidate passed its checks ({'; '.join(failed)})")


def _voice(user_id: str, form: str, prompt: str | None, inputs: dict[str, str], store: Any, settings: Any) -> Any:
    """The user's voice: preferences as inputs, their own writing as exemplars."""
    from fabula.forms import get_form
    from fabula.personalize.profiles import ProfileStore
    from fabula.personalize.voice import voice_for

    chosen = get_form(form)
    text = prompt if prompt is not None else chosen.default_prompt
    return voice_for(ProfileStore(settings.db_url), store, user_id, chosen, text, inputs, settings.ensure_home())


def indexing_notice(source: str) -> None:
    click.echo(f"indexing reference corpus {source} for originality checks (once)…", err=True)


def _melody(work: Any, midi: Path | None, abc: Path | None, wav: Path | None) -> dict[str, Any]:
    """Compose a melody for a saved song and write the files asked for."""
    from fabula.music.export import write_abc, write_midi
    from fabula.music.melody import compose

    inputs = work.provenance["prompt"]["inputs"]
    try:
        tempo = int(inputs.get("tempo", "96"))
    except ValueError:
        raise InvalidParam("tempo", inputs.get("tempo"), "must be a whole number of beats per minute") from None
    tune = compose(work.text, inputs.get("key", "C"), tempo, inputs.get("meter", "4/4"), seed=work.provenance["seed"])
    title = work.provenance["prompt"]["user_prompt"][:60]
    files = [write_midi(tune, midi, title)] if midi else []
    files += [write_abc(tune, abc, title)] if abc else []
    if wav:
        import tempfile

        from fabula.music.audio import render_wav

        with tempfile.TemporaryDirectory() as scratch:
            source = midi or write_midi(tune, Path(scratch) / "song.mid", title)
            files.append(render_wav(source, wav))
    return {
        "files": [str(f) for f in files],
        "key": tune.key,
        "tempo": tune.tempo,
        "meter": tune.meter,
        "notes": len(tune.notes),
        "bars": tune.bars,
        "strong_beat_stress": round(tune.strong_beat_stress(), 4),
    }


def _streamer(n: int) -> Any:
    """Stream candidate text live when n=1; with several candidates show which one is running."""
    state = {"current": -1}

    def on_text(index: int, delta: str) -> None:
        if n == 1:
            sys.stdout.write(delta)
            sys.stdout.flush()
        elif index != state["current"]:
            state["current"] = index
            click.echo(f"  candidate {index + 1}/{n}…", err=True)

    return on_text


def explain_choice(work: Any) -> None:
    """A table of the candidates (scores, failed checks) on stderr, the winner marked, and why."""
    from rich.console import Console
    from rich.table import Table

    post = work.provenance["post"]
    table = Table(
        "",
        "#",
        "rank score",
        "mean logprob",
        "perplexity",
        "distinct-2",
        "repeat-4",
        "words",
        "failed checks",
        "opening",
        title="candidates",
    )
    for i, cand in enumerate(work.candidates):
        sc = cand.scores
        failed = ", ".join(v["check"] for v in cand.verdicts if not v["passed"] and v["severity"] != "info") or "-"
        table.add_row(
            "★" if cand.chosen else "",
            str(i + 1),
            str(sc["rank_score"]),
            str(sc["mean_logprob"]),
            str(sc["perplexity"]),
            str(sc["distinct_2"]),
            str(sc["repetition_4"]),
            str(sc["words"]),
            failed,
            cand.text[:40].replace("\n", " / "),
        )
    console = Console(stderr=True)
    console.print(table)
    console.print(f"why: {post['why']}")


def _report(work: Any, export_path: Any, db_url: str, summary: str) -> None:
    post = work.provenance["post"]
    timing = work.provenance["timing"]
    if len(work.candidates) > 1:
        click.echo(f"chose candidate {post['chosen_index'] + 1} of {len(work.candidates)}: {post['why']}", err=True)
    click.echo(
        f"saved work {work.id} → {export_path}  (database {db_url}); "
        f"{timing['completion_tokens']} tokens in {timing['seconds']} s, {timing['tokens_per_second']} tok/s",
        err=True,
    )
    chosen = work.candidates[post["chosen_index"]]
    for note in (v for v in chosen.verdicts if v["severity"] == "info"):
        click.echo(f"cleaned: {note['detail']}", err=True)
    click.echo(f"provenance: {summary}", err=True)
    click.echo(f"originality: {originality_line(work.provenance.get('originality'))}", err=True)


def originality_line(report: dict[str, Any] | None) -> str:
    """One line: the score, the longest verbatim span, flags, and what was checked against."""
    if not report:
        return "not checked"
    if not report["sources"]:
        fixes = sorted({m["fix"] for m in report["missing_sources"]})
        return "no reference corpus installed (" + "; ".join(fixes) + ")"
    flags = f"{len(report['flagged_spans'])} flagged span(s)" if report["flagged"] else "nothing flagged"
    names = ", ".join(s["name"] for s in report["sources"])
    return (
        f"score {report['score']:.2f}, longest verbatim span {report['longest_span_tokens']} tokens, "
        f"{flags} (against {names})"
    )
