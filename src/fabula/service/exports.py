"""Exporting a saved work: the format from the file's suffix (or a named format), one list of what
each form supports, and an unknown suffix refused instead of a Markdown file under its name.

Every saved work exports as Markdown (with its provenance line), plain text and JSON (the whole
record); a form adds its own formats (an NPC tree: Ink and Yarn; a quest: its JSON document; a song:
its melody as MIDI, ABC and MusicXML, composed again from the seed it was saved with). The
same table serves `fabula write --export`, `fabula works export` and the API, so a work saved
today can be exported later to any format its form has, without writing it again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fabula.errors import InvalidParam

GENERIC = {".md": "md", ".markdown": "md", ".txt": "txt", ".json": "json"}


@dataclass(frozen=True)
class ExportFormat:
    suffix: str
    render: Callable[[dict[str, Any]], str | bytes]  # the saved work (as `WorkStore.get` gives it) -> file content
    media: str = "text/plain; charset=utf-8"


def _melody_formats() -> dict[str, ExportFormat]:
    """A saved song's melody, as `fabula write lyrics --melody/--abc/--musicxml` wrote it."""
    import tempfile

    from fabula.music.export import abc_text, write_midi
    from fabula.music.musicxml import write_musicxml
    from fabula.service.write import melody_of

    def through_file(write: Callable[..., Path], name: str) -> Callable[[dict[str, Any]], bytes]:
        def render(work: dict[str, Any]) -> bytes:
            tune, title = melody_of(work["text"], work["provenance"])
            with tempfile.TemporaryDirectory() as scratch:
                return write(tune, Path(scratch) / name, title).read_bytes()

        return render

    def abc(work: dict[str, Any]) -> str:
        return abc_text(*melody_of(work["text"], work["provenance"]))

    return {
        ".mid": ExportFormat(".mid", through_file(write_midi, "song.mid"), "audio/midi"),
        ".abc": ExportFormat(".abc", abc, "text/vnd.abc; charset=utf-8"),
        ".musicxml": ExportFormat(
            ".musicxml", through_file(write_musicxml, "song.musicxml"), "application/vnd.recordare.musicxml+xml"
        ),
    }


def formats_for(form: str, store: Any) -> dict[str, ExportFormat]:
    """Every format a work of `form` exports to, by suffix; the form's own win over the generic."""
    from fabula.forms import get_form

    def generic(fmt: str) -> Callable[[dict[str, Any]], str]:
        return lambda work: str(store.export(work["id"], fmt))

    def own(render: Callable[[str], str]) -> Callable[[dict[str, Any]], str]:
        return lambda work: render(work["text"])

    out = {suffix: ExportFormat(suffix, generic(fmt)) for suffix, fmt in GENERIC.items()}
    for suffix, render in get_form(form).exports.items():
        out[suffix] = ExportFormat(suffix, own(render))
    if form == "lyrics":
        out.update(_melody_formats())
    from fabula.plugins import load, names

    for name in names("exporters"):  # third-party formats (`fabula.exporters` entry points)
        exporter = load("exporters", name)
        forms = getattr(exporter, "forms", "*")
        if forms == "*" or form in forms:
            suffix = "." + str(exporter.suffix).lower().lstrip(".")
            out.setdefault(suffix, ExportFormat(suffix, own(exporter.render)))
    return out


def choose(form: str, store: Any, path: Path | None, fmt: str | None) -> ExportFormat:
    """The format named by `fmt` (md, txt, json, ink, ...) or else by `path`'s suffix (else Markdown)."""
    formats = formats_for(form, store)
    names = sorted({s.lstrip(".") for s in formats})
    if fmt is not None:
        suffix = "." + fmt.lower().lstrip(".")
        if suffix not in formats:
            raise InvalidParam("format", fmt, f"{form} works export as {', '.join(names)}")
        return formats[suffix]
    if path is None:
        return formats[".md"]
    suffix = path.suffix.lower()
    if suffix not in formats:
        raise InvalidParam(
            "output",
            str(path),
            f"{form} works export as {', '.join(names)}; name the file with one of those suffixes",
            hint="or choose with --format",
        )
    return formats[suffix]


def export_work(work: dict[str, Any], store: Any, path: Path | None, fmt: str | None) -> str | bytes:
    """The work's content in the chosen format (the caller writes it, with its manifest)."""
    return choose(work["form"], store, path, fmt).render(work)
