"""`fabula write FORM [PROMPT]`: parse the options, call the write service, show the work.

Writing itself (engine choice, voice, review, saving, exports, melodies) is `fabula.service.write`;
long forms go to the plan service and stream scripts to the stream service.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from fabula.cli.interrupt import interruptible
from fabula.cli.options import build_params, pop_sampling, sampling_options
from fabula.cli.progress import token_progress
from fabula.cli.render import explain_choice, indexing_notice, notice, report, streamer
from fabula.errors import InvalidParam, Rejected
from fabula.forms import FORMS, get_form
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


def write_options(command: Any) -> Any:
    """The options of `fabula write` besides the sampling controls."""
    for option in reversed(OPTIONS):
        command = option(command)
    return command


OPTIONS = [
    click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Form input, e.g. genre=mystery."),
    click.option("--engine", help="llamacpp (default), hf, openai or fake."),
    click.option("--model", help="GGUF path, Hugging Face folder, GPT name/folder, or server model name."),
    click.option(
        "--adapter",
        type=click.Path(file_okay=False, path_type=Path),
        help="PEFT LoRA adapter folder (from `fabula train finetune`), hf engine.",
    ),
    click.option(
        "--melody",
        "melody_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="lyrics: also compose a melody and write it here as MIDI (lyrics embedded).",
    ),
    click.option(
        "--from-melody",
        "tune_path",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="lyrics: write the words to this melody (MIDI or ABC), one syllable per note, a line per phrase.",
    ),
    click.option(
        "--abc",
        "abc_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="lyrics: also write the melody here in ABC notation.",
    ),
    click.option(
        "--wav",
        "wav_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="lyrics: also render the melody to audio (needs fluidsynth and a GM soundfont).",
    ),
    click.option(
        "--musicxml",
        "musicxml_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="lyrics: also write the melody here as a MusicXML score (MuseScore, Finale, Sibelius).",
    ),
    click.option(
        "--rank",
        "rank_spec",
        help="Best-of-n scorer weights, e.g. likelihood=1,compliance=2,distance=1 (terms: likelihood, "
        "repetition, compliance, distance).",
    ),
    click.option(
        "--export",
        "export_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Also write the work here, in the format its suffix names (npc: .yarn .ink .json; quest: .json; "
        "screenplay: .fountain .fdx .html .pdf .json; story --long: .md .epub .docx .json).",
    ),
    click.option(
        "--long",
        is_flag=True,
        help="story: plan it (characters, beats, chapters) and write it chapter by chapter; "
        "--set template=three-act|hero-journey|save-the-cat|kishotenketsu, --set cast=N.",
    ),
    click.option(
        "--watermark",
        is_flag=True,
        help="Mark the text with a green-list watermark keyed by FABULA_WATERMARK_KEY (llamacpp, hf); "
        "check it with `fabula watermark detect`.",
    ),
    click.option(
        "--user",
        "user_id",
        help="Write for this user: their preferences fill unset inputs, and their own writing (edits, "
        "accepted works) is given as exemplars of their voice.",
    ),
    click.option(
        "--safety",
        "safety_spec",
        help="Safety levels for this run, e.g. hate=low,graphic_violence=medium (low|medium|high|off); "
        "core categories keep their floor whatever is asked.",
    ),
    click.option("--explain", is_flag=True, help="Show every candidate's scores and verdicts, and why the winner won."),
    click.option("--json", "as_json", is_flag=True, help="Print one JSON object (the work) and nothing else."),
    click.option("--no-stream", is_flag=True, help="Print the text when done instead of as it is written."),
    click.option(
        "--persona",
        "persona_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="stream-script: the persona card (YAML, or Character Card V2 JSON/PNG).",
    ),
    click.option("--topic", help="stream-script: what the show is about."),
    click.option("--minutes", type=click.IntRange(1, 240), help="stream-script: the show's length."),
]


class FormChoice(click.Choice):  # type: ignore[type-arg]
    """The forms known when the command runs: built-in, plugins and FABULA_HOME/forms templates
    (read then, not at import, so a plugin installed or a template added shows up)."""

    def __init__(self) -> None:
        super().__init__((*FORMS, *PLANNED, "stream-script"))

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        from fabula.forms import available

        self.choices = (*available(), *PLANNED, "stream-script")
        return super().convert(value, param, ctx)


@click.command()
@click.argument("form", type=FormChoice())
@click.argument("prompt", required=False)
@write_options
@sampling_options
def write(
    form: str, prompt: str | None, sets: tuple[str, ...], as_json: bool, no_stream: bool, explain: bool, **options: Any
) -> None:
    """Write a FORM (story, poem, lyrics, ...) from PROMPT with a language model, and save it."""
    from fabula.service.write import (
        MelodyFiles,
        WriteJob,
        check_job,
        chinese_verse,
        engine_for,
        job_settings,
        run_write,
    )

    params = build_params(pop_sampling(options))
    inputs = parse_sets(sets)
    o = options
    if o["tune_path"] is not None:
        if form != "lyrics":
            raise InvalidParam("--from-melody", str(o["tune_path"]), "only lyrics are written to a melody")
        from fabula.music.tune import midi_text

        if o["tune_path"].suffix.lower() == ".abc":  # the tune itself is kept with the work, not its path
            inputs["tune_abc"] = o["tune_path"].read_text(encoding="utf-8")
        else:
            inputs["tune_midi"] = midi_text(o["tune_path"])
    if form == "stream-script":
        from fabula.cli.stream import write_stream_script

        return write_stream_script(
            o["persona_file"],
            o["topic"] or prompt,
            o["minutes"] or 30,
            o["engine"],
            o["model"],
            params,
            o["export_file"],
            as_json,
        )
    _refuse_misplaced(form, options)
    settings = get_settings()
    if form in PLANNED or o["long"]:
        from fabula.cli.plan import write_planned

        # the run's safety levels and adapter, checked as for any work (the adapter on any engine)
        settings = job_settings(WriteJob(form, safety=o["safety_spec"]), settings)
        if o["adapter"] is not None:
            settings = settings.model_copy(update={"adapter": str(o["adapter"])})
        return write_planned(form, prompt, inputs, o["engine"], o["model"], params, o["export_file"], as_json, settings)
    job = WriteJob(
        form,
        prompt,
        inputs,
        params,
        engine=o["engine"],
        model=o["model"],
        adapter=None if o["adapter"] is None else str(o["adapter"]),
        user=o["user_id"],
        rank=o["rank_spec"],
        watermark=o["watermark"],
        safety=o["safety_spec"],
        export=o["export_file"],
        melody=MelodyFiles(o["melody_path"], o["abc_path"], o["wav_path"], o["musicxml_path"]),
        local_files=True,
    )
    if engine_for(job, settings)[0] == "llamacpp" and "llamacpp_slots" not in settings.model_fields_set:
        # one work in this process: as many llama.cpp slots as it has candidates, since every slot's
        # KV cache costs memory and start-up time (8 slots: +630 MiB, +0.5 s on the default model)
        settings = settings.model_copy(update={"llamacpp_slots": max(1, min(params.n, settings.llamacpp_slots))})
    # a song, and Chinese verse (one line per clause), is laid out only when complete; a quest or an
    # NPC tree (JSON under a schema) shows a progress bar instead of half-written JSON
    structured = get_form(form).json_schema is not None
    stream = not (as_json or no_stream or structured or form == "lyrics" or chinese_verse(form, inputs))
    check_job(job)  # bad inputs are refused before an engine is loaded
    if not as_json:
        notice(f"loading {engine_for(job, settings)[0]} engine…")
    with token_progress(as_json or not structured, f"writing the {form}", params.n, params.max_tokens) as counted:
        on_text = streamer(params.n) if stream else counted
        on_notice = None if as_json else _notice(stream)
        result = interruptible(run_write, job, settings, on_text=on_text, on_notice=on_notice)  # Ctrl-C saves nothing
    _show(result, as_json, stream, explain, settings.db_url)
    if not result.work.passed:
        failed = "; ".join(result.work.chosen.failures())
        raise Rejected(f"work {result.work.id} was saved, but no candidate passed its checks ({failed})")


def _refuse_misplaced(form: str, o: dict[str, Any]) -> None:
    """Options that do not apply to this form are refused, not ignored."""
    for name, key in (("--persona", "persona_file"), ("--topic", "topic"), ("--minutes", "minutes")):
        if o[key] is not None:
            raise InvalidParam(name, str(o[key]), "is for `fabula write stream-script`")
    planned = form in PLANNED or o["long"]
    if o["long"] and form != "story":
        raise InvalidParam("--long", form, "only a story is written long on request (a screenplay always is)")
    if planned and o["user_id"]:
        raise InvalidParam("--user", o["user_id"], "long forms are not personalized yet", hint="leave --user off")
    if planned and o["watermark"]:
        raise InvalidParam("--watermark", form, "long forms are not watermarked yet", hint="leave --watermark off")


def _notice(stream: bool) -> Any:
    def on_indexing(source: str) -> None:
        if stream:
            notice()  # end the streamed line first
        indexing_notice(source)

    return on_indexing


def _show(result: Any, as_json: bool, stream: bool, explain: bool, db_url: str) -> None:
    from fabula.store.works import provenance_line

    work, melody = result.work, result.melody
    if as_json:
        click.echo(json.dumps(work.to_json() | ({"melody": melody} if melody else {}), ensure_ascii=False))
        return
    if stream and len(work.candidates) == 1:
        click.echo()
    else:
        click.echo(work.text)
    if explain:
        explain_choice(work)
    report(work, result.copy, db_url, provenance_line(work.provenance))
    if result.exported is not None:
        notice(f"exported → {result.exported} (provenance beside it)")
    if melody:
        fit = (
            f"stressed syllables on {melody['strong_beat_stress']:.0%} of strong beats"
            if "strong_beat_stress" in melody
            else f"tones follow {melody['tone_pitch_agreement']:.0%} of pitch steps"
        )
        files = f" → {', '.join(str(p) for p in melody['files'])}" if melody["files"] else ""
        files += f" (no files: {melody['not_written']})" if "not_written" in melody else ""
        facts = f"{melody['notes']} notes in {melody['key']}, {melody['meter']}, {melody['tempo']} bpm"
        notice(f"melody: {facts}; {fit}{files}")
