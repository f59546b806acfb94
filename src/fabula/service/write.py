"""Writing one work: the service every surface calls (`fabula write`, `/v1` with a form, `/api/works`,
batch items).

`run_write(job, settings)` is the whole sequence, in one place: choose the engine (Chinese verse on
the default engine goes to the Tang-poem model, since the default model writes no Chinese), build
the user's voice, run the pipeline, review and save, keep a Markdown copy with its provenance
manifest, compose the melody of a song, and export through the export gate. The surfaces only
parse their input into a `WriteJob` and render the `WriteResult`, so the same job gives the same
text and the same provenance whichever surface it came through.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fabula.backends.base import Backend, OnText
from fabula.errors import InvalidParam
from fabula.sampling import SamplingParams
from fabula.settings import Settings
from fabula.types import Work

if TYPE_CHECKING:
    from fabula.store.works import IdempotencyKey


LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class MelodyFiles:
    """Where a song's melody goes: MIDI (lyrics embedded), ABC notation, rendered audio, MusicXML."""

    midi: Path | None = None
    abc: Path | None = None
    wav: Path | None = None
    musicxml: Path | None = None

    def __bool__(self) -> bool:
        return any((self.midi, self.abc, self.wav, self.musicxml))


@dataclass(frozen=True)
class WriteJob:
    """Everything a surface may ask of one work. `None` means the settings' (or the form's) default."""

    form: str
    prompt: str | None = None
    inputs: Mapping[str, str] = field(default_factory=dict)
    params: SamplingParams = field(default_factory=SamplingParams)
    engine: str | None = None
    model: str | None = None
    adapter: str | None = None  # a LoRA adapter folder (hf engine)
    user: str | None = None  # personalize for this user: preferences and their own writing as voice
    owner: str | None = None  # who the saved work belongs to (default: the user written for)
    rank: str | None = None  # best-of-n weights, e.g. "likelihood=1,compliance=2"
    watermark: bool = False
    safety: str | None = None  # per-run safety levels; the floors hold whatever is asked
    export: Path | None = None  # also write the work here, in the format its suffix names
    melody: MelodyFiles = field(default_factory=MelodyFiles)
    idempotency_key: IdempotencyKey | None = None  # a retry with the same key returns the saved work
    # who the client says its end user is (OpenAI's `user`), recorded in provenance, never trusted
    client_user: str | None = None
    keep_copy: bool = True  # a Markdown copy and its manifest in FABULA_HOME/works
    save: bool = True  # False: reviewed like any work, but neither saved nor exported (a dry batch)
    # inputs may name files on this machine (lyrics' `tune`): true only for the command line, whose
    # user owns the machine; a client over HTTP must never make the server read a path it names
    local_files: bool = False

    @property
    def saved_for(self) -> str | None:
        return self.owner if self.owner is not None else self.user


@dataclass(frozen=True)
class WriteResult:
    work: Work
    copy: Path | None = None  # the Markdown copy in the works folder
    exported: Path | None = None
    melody: dict[str, Any] | None = None


def chinese_verse(form: str, inputs: Mapping[str, str]) -> bool:
    """Classical Chinese verse (or Chinese lyrics): laid out by clause, written by the Tang model."""
    from fabula.verse.kinds import written_in_chinese

    return written_in_chinese(form, inputs)


def engine_for(job: WriteJob, settings: Settings) -> tuple[str, str]:
    """(engine, model) for the job: what it names, else the settings'; Chinese verse on the default
    engine goes to our Tang-poem GPT (a ci to its fine-tuned ci model), because the default model
    writes no Chinese."""
    if job.engine is not None:
        return job.engine, job.model if job.model is not None else settings.model
    if "engine" not in settings.model_fields_set and chinese_verse(job.form, job.inputs):
        from fabula.verse.kinds import shipped_model

        # a model named here is one of our GPTs (a name or a folder)
        return "gpt", job.model or shipped_model(job.form, job.inputs)
    return settings.engine, job.model if job.model is not None else settings.model


def job_settings(job: WriteJob, settings: Settings) -> Settings:
    """The settings this job runs under: its safety levels and adapter, checked."""
    from fabula.responsible.safety import SafetyPolicy

    update: dict[str, Any] = {}
    if job.safety is not None:
        SafetyPolicy.parse(job.safety)  # a bad category or a level under the floor fails here
        update["safety"] = job.safety
    if job.adapter is not None:
        if (job.engine or settings.engine) != "hf":
            raise InvalidParam("adapter", job.adapter, "adapters are applied on the hf engine")
        update["adapter"] = job.adapter
    return settings.model_copy(update=update) if update else settings


FILE_INPUTS = {"lyrics": ("tune",)}  # inputs that name a file to read


def check_job(job: WriteJob) -> None:
    """Refuse what cannot be done before anything slow starts."""
    from fabula.forms import get_form

    form = get_form(job.form)
    for name in FILE_INPUTS.get(job.form, ()):
        if job.inputs.get(name) and not job.local_files:
            where = (
                "a melody file is read on the command line only;"
                " over HTTP, give ABC text in tune_abc or a MIDI file in base64 in tune_midi"
            )
            raise InvalidParam(name, job.inputs[name], where)
    form.render(job.prompt, job.inputs)  # an unknown input or value (form=villanelle) fails here, not after a load
    if job.export is not None:
        from fabula.service.exports import GENERIC

        known = sorted({*GENERIC, *form.exports})
        if job.export.suffix.lower() not in known:
            raise InvalidParam(
                "export", str(job.export), f"{job.form} works export as {', '.join(s.lstrip('.') for s in known)}"
            )
    if job.melody and job.form != "lyrics":
        raise InvalidParam(
            "melody",
            str(job.melody.midi or job.melody.abc or job.melody.wav or job.melody.musicxml),
            "only the lyrics form has a melody",
        )
    if job.melody.wav:
        from fabula.music.audio import find_synth

        find_synth()  # no synthesizer: say so before writing anything


def run_write(
    job: WriteJob,
    settings: Settings,
    *,
    on_text: OnText | None = None,
    on_notice: Callable[[str], None] | None = None,
    backend: Backend | None = None,
    store: Any = None,
) -> WriteResult:
    """Write, review, save and export one work (see the module docstring).

    `on_text(candidate, delta)` streams the text as it is written; `on_notice(source)` is told when
    a reference corpus is indexed for the first time (seconds). `backend` and `store` (a
    WorkStore) are the ones to use when the caller holds them already.
    """
    from fabula.pipeline import write
    from fabula.post.rank import Ranker
    from fabula.responsible.review import review_and_save, review_work
    from fabula.responsible.safety import SafetyPolicy
    from fabula.store.works import WorkStore

    settings = job_settings(job, settings)
    ranker = Ranker.parse(job.rank)
    check_job(job)
    if store is None and (job.save or job.user):
        store = WorkStore(settings.db_url)  # open (and migrate) before the slow part: fail early
    if backend is None:
        from fabula.backends import get_backend

        backend = get_backend(*engine_for(job, settings), settings)
    key = None
    if job.watermark:
        from fabula.responsible.watermark import load_or_create_key

        key = load_or_create_key(settings.watermark_key, settings.ensure_home())
    policy = SafetyPolicy.parse(settings.safety)
    inputs = dict(job.inputs)
    voice = voice_of(job.user, job.form, job.prompt, inputs, store, settings) if job.user else None
    work = write(
        backend,
        job.form,
        job.prompt,
        inputs,
        job.params,
        on_text,
        ranker=ranker,
        watermark_key=key,
        safety=policy,
        voice=voice,
    )
    if job.client_user is not None:
        from dataclasses import replace

        work = replace(work, provenance={**work.provenance, "client": {"user": job.client_user}})
    if not job.save:
        return WriteResult(review_work(work, settings, on_notice, policy))
    work = review_and_save(
        work,
        settings,
        store,
        safety=policy,
        on_build=on_notice,
        owner=job.saved_for,
        idempotency_key=job.idempotency_key,
    )
    LOG.info("saved %s %s: %s", job.form, work.id, "passed" if work.provenance["post"]["passed"] else "rejected")
    return finish(work, job, settings, store)


def finish(work: Work, job: WriteJob, settings: Settings, store: Any) -> WriteResult:
    """A saved work's files: the Markdown copy, the melody, the export; each with its manifest."""
    from fabula.files import write_atomic
    from fabula.responsible.review import export_manifest, gate

    copy = keep_copy(work, settings, store) if job.keep_copy else None
    given_tune = job.form == "lyrics" and any(job.inputs.get(k) for k in ("tune", "tune_abc", "tune_midi"))
    melody = compose_melody(work, job.melody) if job.melody or given_tune else None
    for path in (melody or {}).get("files", []):
        export_manifest(store.get(work.id), Path(path), settings)  # every exported file has its manifest
    exported = None
    if job.export is not None and work.provenance["post"]["passed"]:
        from fabula.service.exports import export_work

        gate(work.provenance, settings, "export")
        saved = store.get(work.id)
        write_atomic(job.export, export_work(saved, store, job.export, None))
        export_manifest(saved, job.export, settings)
        exported = job.export
    return WriteResult(work, copy, exported, melody)


def keep_copy(work: Work, settings: Settings, store: Any) -> Path:
    """The saved work's Markdown copy in FABULA_HOME/works, with its provenance manifest beside it."""
    from fabula.files import write_atomic
    from fabula.responsible.review import export_manifest

    copy = settings.home / "works" / f"{work.id}.md"
    write_atomic(copy, store.export(work.id, "md"))
    export_manifest(store.get(work.id), copy, settings)
    return copy


def voice_of(
    user_id: str, form: str, prompt: str | None, inputs: dict[str, str], store: Any, settings: Settings
) -> Any:
    """The user's voice: preferences as inputs, their own writing as exemplars."""
    from fabula.forms import get_form
    from fabula.personalize.profiles import ProfileStore
    from fabula.personalize.voice import voice_for

    chosen = get_form(form)
    text = prompt if prompt is not None else chosen.default_prompt
    return voice_for(ProfileStore(settings.db_url), store, user_id, chosen, text, inputs, settings.ensure_home())


def melody_of(song: str, provenance: dict[str, Any]) -> tuple[Any, str]:
    """The melody a saved song was given (its key, tempo, meter and seed), and its title: the same
    notes whenever it is composed, so a song saved today exports its score later."""
    from fabula.music.melody import compose
    from fabula.music.tune import tune_from_inputs

    inputs = provenance["prompt"]["inputs"]
    title = provenance["prompt"]["user_prompt"][:60]
    given = tune_from_inputs(inputs)
    if given is not None:  # words written to a given melody: that melody, with them
        from fabula.music.setting import sung_melody

        return sung_melody(given, song), title
    try:
        tempo = int(inputs.get("tempo", "96"))
    except ValueError:
        raise InvalidParam("tempo", inputs.get("tempo"), "must be a whole number of beats per minute") from None
    tune = compose(song, inputs.get("key", "C"), tempo, inputs.get("meter", "4/4"), seed=provenance["seed"])
    return tune, title


def compose_melody(work: Work, files: MelodyFiles) -> dict[str, Any]:
    """Compose a melody for a saved song (or take the one its words were written to) and write
    the files asked for."""
    from fabula.music.tune import tune_from_inputs

    inputs = work.provenance["prompt"]["inputs"]
    given = tune_from_inputs(inputs)
    if given is not None:  # the given tune's phrases and notes, and how the words fit them
        from fabula.music.setting import check_setting, melody_json, sung_melody

        fit = check_setting(work.text, given, inputs.get("language", "en") or "en")
        measures = {k: fit[k] for k in ("syllables_per_note", "strong_beat_stress", "tone_pitch_agreement") if k in fit}
        report = melody_json(given) | {"notes": len(given.notes), "files": []} | measures
        if fit["syllables_per_note"] < 1.0 or len(work.text.splitlines()) != len(given.phrases):
            # words that do not fit the notes cannot be sung to them: the work stays saved, unscored
            return report | {"not_written": "the words do not have one syllable per note: " + fit["violations"][0]}
        title = work.provenance["prompt"]["user_prompt"][:60]
        return report | {"files": [str(f) for f in _melody_files(sung_melody(given, work.text), title, files)]}
    tune, title = melody_of(work.text, work.provenance)
    return {
        "files": [str(f) for f in _melody_files(tune, title, files)],
        "key": tune.key,
        "tempo": tune.tempo,
        "meter": tune.meter,
        "notes": len(tune.notes),
        "bars": tune.bars,
        "strong_beat_stress": round(tune.strong_beat_stress(), 4),
    }


def _melody_files(tune: Any, title: str, files: MelodyFiles) -> list[Path]:
    from fabula.music.export import write_abc, write_midi
    from fabula.music.musicxml import write_musicxml

    written = [write_midi(tune, files.midi, title)] if files.midi else []
    written += [write_abc(tune, files.abc, title)] if files.abc else []
    written += [write_musicxml(tune, files.musicxml, title)] if files.musicxml else []
    if files.wav:
        import tempfile

        from fabula.music.audio import render_wav

        with tempfile.TemporaryDirectory() as scratch:
            source = files.midi or write_midi(tune, Path(scratch) / "song.mid", title)
            written.append(render_wav(source, files.wav))
    return written
