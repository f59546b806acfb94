"""Co-writing services: manuscripts made, imported, changed by verbs and by hand, and exported with
a provenance manifest that states who wrote what.

`fabula draft ...` and `/api/manuscripts/...` both call these, so a change made in the studio is
the same node in the same tree that the CLI shows. A verb's output is checked by the safety policy
as any work is: a blocked candidate is kept out of the list (and counted), never offered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fabula.cowrite import attribution
from fabula.cowrite.manuscript import Document, Manuscript, Node
from fabula.cowrite.verbs import EDITING, VerbRequest, VerbResult, run_verb
from fabula.errors import InvalidParam, Rejected
from fabula.sampling import MAX_SEED, SamplingParams
from fabula.settings import Settings

EXPORTS = (".txt", ".md", ".docx", ".epub", ".fountain", ".json")
IMPORTS = (".txt", ".md", ".markdown")


def manuscript_store(settings: Settings, owner: str | None = None) -> Any:
    from fabula.cowrite.store import ManuscriptStore

    return ManuscriptStore(settings.ensure_home(), owner)


@dataclass
class VerbCall:
    """One verb on one document, as a surface asks for it."""

    verb: str
    start: int | None = None
    end: int | None = None
    instruction: str = ""
    n: int = 3
    lead: str = ""
    seed: int | None = None
    choose: int | None = None  # apply this candidate (0-based); None: the best; -1: apply none
    engine: str | None = None
    model: str | None = None
    backend: Any = None  # an engine already loaded (the server's); else engine and model name one
    form: str | None = None  # a verse form for this call (else the document's own)
    on_text: Any = None  # on_text(attempt, delta) as candidates are written (streaming surfaces)


@dataclass
class VerbOutcome:
    result: VerbResult
    node: Node | None  # the change applied, if any
    seed: int
    engine: str
    model: str
    blocked: int  # candidates the safety policy kept out


def _backend(call: VerbCall, settings: Settings) -> Any:
    from fabula.backends import get_backend

    if call.backend is not None:
        return call.backend
    return get_backend(
        call.engine or settings.engine, call.model if call.model is not None else settings.model, settings
    )


def so_far(manuscript: Any, doc: Document) -> str:
    """The story so far for a verb in `doc`: the chapters and scenes before it in the manuscript,
    each summarised by its first and last sentences (instant and deterministic: a verb must not
    wait for an engine call per earlier chapter), and how the one just before ended."""
    from fabula.continuity.context import VERB_BUDGET, extractive_summary, story_so_far

    if doc.kind not in ("chapter", "scene"):
        return ""
    earlier: list[str] = []
    for other in manuscript.documents:
        if other.id == doc.id:
            break
        if other.kind in ("chapter", "scene") and other.text.strip():
            earlier.append(other.text)
    if not earlier:
        return ""
    return story_so_far([extractive_summary(t) for t in earlier], earlier[-1], VERB_BUDGET).text


def run_call(
    doc: Document,
    entries: list[Any],
    call: VerbCall,
    params: SamplingParams,
    settings: Settings,
    story_so_far: str = "",
) -> VerbOutcome:
    """Run the verb on the document's head, and apply the chosen candidate (editing verbs)."""
    import secrets

    from fabula.responsible.safety import SafetyPolicy

    seed = call.seed if call.seed is not None else secrets.randbelow(MAX_SEED + 1)
    form = call.form if call.form is not None else doc.form
    req = VerbRequest(
        call.verb,
        doc.text,
        call.start,
        call.end,
        call.instruction,
        n=call.n,
        lead=call.lead,
        entries=entries,
        so_far=story_so_far,
        constraint=poem_constraint(form) if form and call.verb == "continue" else None,
        on_text=call.on_text,
    )
    backend = _backend(call, settings)
    result = run_verb(backend, req, params, seed)
    policy = SafetyPolicy.parse(settings.safety) if settings.safety else SafetyPolicy()
    safe = [c for c in result.candidates if not policy.check(str(c["text"]), "output")["blocked"]]
    blocked = len(result.candidates) - len(safe)
    if not safe:
        raise Rejected(f"{call.verb}: every candidate was blocked by the safety policy")
    result.candidates = safe
    result.chosen = min(result.chosen, len(safe) - 1)
    node = None
    if call.verb in EDITING and call.choose != -1:
        chosen = result.chosen if call.choose is None else call.choose
        if not 0 <= chosen < len(result.candidates):
            raise InvalidParam("choose", chosen + 1, f"this call has candidates 1..{len(result.candidates)}")
        result.chosen = chosen
        record = {"instruction": call.instruction, "seed": seed, "engine": backend.name, "model": backend.model_name}
        node = doc.apply(call.verb, result.start, result.end, result.candidates, chosen, **record)
    return VerbOutcome(result, node, seed, backend.name, backend.model_name, blocked)


def poem_constraint(form: str) -> Any:
    """The whole-poem constraint of a verse form, as `fabula write poem --set form=...` uses it."""
    from fabula.forms import get_form

    poem = get_form("poem")
    constraint = poem.constrain({"form": form, "prompt": ""}) if poem.constrain else None
    if constraint is None:
        raise InvalidParam("form", form, "a fixed verse form: haiku, limerick, quatrain, sonnet, wujue, qijue, ...")
    return constraint


def provenance(doc: Document, outcome: VerbOutcome, params: SamplingParams) -> dict[str, Any]:
    from fabula import __version__

    result = outcome.result
    return {
        "verb": result.verb,
        "selection": [result.start, result.end],
        "seed": outcome.seed,
        "engine": outcome.engine,
        "model": outcome.model,
        "params": params.to_dict(),
        "prompt": result.prompt,
        "prompt_version": result.prompt_version,
        "bible": result.bible,
        "node": outcome.node.id if outcome.node else None,
        "blocked_candidates": outcome.blocked,
        "attribution": attribution.shares(doc.runs),
        "fabula_version": __version__,
    }


def outcome_json(doc: Document, outcome: VerbOutcome, params: SamplingParams) -> dict[str, Any]:
    """The `fabula draft VERB --json` object (and the API's answer)."""
    result = outcome.result
    out: dict[str, Any] = {
        "verb": result.verb,
        "document": doc.text,
        "text": result.text,
        "chosen": result.chosen,
        "candidates": result.candidates,
        "provenance": provenance(doc, outcome, params),
    }
    if result.verb == "brainstorm":
        out["items"] = result.items
    if result.feedback is not None:
        out["feedback"] = result.feedback
    return out


# ---- import and export -------------------------------------------------------------------------------

HEADING = re.compile(r"^#{1,2} +(.+?)\s*#*\s*$", re.MULTILINE)


def split_chapters(text: str, fallback_title: str) -> list[tuple[str, str]]:
    """(title, text) per `#`/`##` heading of a Markdown file; the whole file under its name if none."""
    marks = list(HEADING.finditer(text))
    if not marks:
        return [(fallback_title, text.strip("\n") + "\n" if text.strip() else "")]
    out = []
    preface = text[: marks[0].start()].strip()
    if preface:
        out.append((fallback_title, preface + "\n"))
    for i, mark in enumerate(marks):
        body = text[mark.end() : marks[i + 1].start() if i + 1 < len(marks) else len(text)].strip("\n")
        out.append((mark.group(1), body + "\n"))
    return out


def read_text_file(path: Path) -> str:
    if path.suffix.lower() not in IMPORTS:
        raise InvalidParam("file", str(path), f"import plain text or Markdown ({', '.join(IMPORTS)})")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidParam("file", str(path), "is not UTF-8 text", hint="save it as UTF-8 and import again") from None


def import_file(manuscript: Manuscript, path: Path) -> list[Document]:
    text = read_text_file(path)
    return [manuscript.add(title, body) for title, body in split_chapters(text, path.stem)]


def manuscript_markdown(manuscript: Manuscript) -> str:
    parts = [f"# {manuscript.title}", ""]
    for doc in manuscript.documents:
        parts += [f"## {doc.title}", "", doc.text.strip("\n"), ""]
    return "\n".join(parts)


def manuscript_text(manuscript: Manuscript) -> str:
    return "\n\n".join(doc.text.strip("\n") for doc in manuscript.documents) + "\n"


def manuscript_fountain(manuscript: Manuscript) -> str:
    """A screenwriter's manuscript as one Fountain script: a title page, then each document as the
    writer wrote it (its Fountain markup, notes and boneyard are theirs), checked by screenplain."""
    from fabula.errors import ExportError
    from fabula.plan.fountain import check

    title = " ".join(manuscript.title.split())
    body = "\n\n".join(doc.text.strip("\n") for doc in manuscript.documents if doc.text.strip())
    script = f"Title: {title}\nCredit: Written with\nAuthor: fabula\n\n{body}\n"
    report = check(script)
    if not report["parsed"]:
        raise ExportError(f"{manuscript.id}: {report['violations'][0]}", hint="export as .md or .txt instead")
    return script


def export_manuscript(manuscript: Manuscript, path: Path, settings: Settings) -> tuple[Path, Path]:
    """Write the manuscript in the format its suffix names, and the provenance sidecar beside it:
    the human and model shares, every model generation still in the text, signed if a key exists."""
    import json

    from fabula.files import write_atomic
    from fabula.plan.book import write_book_docx, write_book_epub

    suffix = path.suffix.lower()
    if suffix not in EXPORTS:
        raise InvalidParam("output", str(path), f"a manuscript exports as {', '.join(EXPORTS)}")
    chapters = [(doc.title, doc.text) for doc in manuscript.documents if doc.text.strip()]
    if suffix == ".md":
        write_atomic(path, manuscript_markdown(manuscript))
    elif suffix == ".txt":
        write_atomic(path, manuscript_text(manuscript))
    elif suffix == ".json":
        write_atomic(path, json.dumps(manuscript.to_dict(), ensure_ascii=False, indent=1))
    elif suffix == ".fountain":
        write_atomic(path, manuscript_fountain(manuscript))
    elif suffix == ".docx":
        write_book_docx(manuscript.id, manuscript.title, "", chapters, path)
    else:
        write_book_epub(manuscript.id, manuscript.title, chapters, path)
    return path, write_manifest(manuscript, path, settings)


def manifest(manuscript: Manuscript, export: Path) -> dict[str, Any]:
    from fabula import __version__
    from fabula.responsible.provenance import MANIFEST_VERSION, sha256

    shares = manuscript.attribution()
    size = shares["human_chars"] + shares["model_chars"]
    return {
        "manifest_version": MANIFEST_VERSION,
        "claim_generator": f"fabula {__version__}",
        "work": {
            "id": manuscript.id,
            "form": "manuscript",
            "title": manuscript.title,
            "created_at": manuscript.created,
        },
        "content": {"sha256": sha256(manuscript_text(manuscript)), "characters": size},
        "attribution": {
            **shares,
            "human_share": round(shares["human_chars"] / size, 4) if size else None,
            "model_share": round(shares["model_chars"] / size, 4) if size else None,
            "unit": "characters (Unicode code points) of the documents' text",
        },
        "documents": [
            {
                "id": doc.id,
                "title": doc.title,
                "sha256": sha256(doc.text),
                **attribution.shares(doc.runs),
                "spans": attribution.spans(doc.runs),
                "generations": doc.generations(),
            }
            for doc in manuscript.documents
        ],
        "export": {"file": export.name, "sha256": sha256(export.read_bytes())},
    }


def write_manifest(manuscript: Manuscript, export: Path, settings: Settings) -> Path:
    from fabula.responsible.provenance import sign, write_sidecar

    body = manifest(manuscript, export)
    key = settings.signing_key_path
    if key.is_file():
        body = sign(body, key)
    return write_sidecar(export, body)
