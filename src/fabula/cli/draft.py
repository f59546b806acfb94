"""`fabula draft ...`: manuscripts written together, with verbs on any selection and a history tree.

`fabula draft VERB TARGET` runs a verb (continue, rewrite, expand, shrink, describe, brainstorm,
feedback) on a plain-text file (which is changed only with `--write`) or on a manuscript's
document (`ID` or `ID:DOC`), where the chosen candidate becomes a change in its history. The other
commands make, import, show, restore, compare and export manuscripts; all of them call
`fabula.service.drafts`, as the API does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from fabula.cli.options import build_params, pop_sampling, sampling_options
from fabula.cli.progress import token_progress
from fabula.cli.render import notice
from fabula.cowrite.verbs import BRAINSTORM_KINDS, VERBS
from fabula.settings import get_settings


@click.group()
def draft() -> None:
    """Manuscripts you and the model write together: verbs on a selection, history, attribution."""


def _store() -> Any:
    from fabula.service.drafts import manuscript_store

    return manuscript_store(get_settings())


def _target(ref: str) -> tuple[str, str | None]:
    manuscript, _, doc = ref.partition(":")
    return manuscript, doc or None


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False))


@draft.command("new")
@click.argument("title")
@click.option("--json", "as_json", is_flag=True)
def new(title: str, as_json: bool) -> None:
    """Start an empty manuscript called TITLE."""
    manuscript = _store().create(title)
    if as_json:
        _echo_json({"id": manuscript.id, "title": manuscript.title})
    else:
        click.echo(manuscript.id)
        notice(
            f"manuscript {manuscript.id} ({manuscript.title}); add text with `fabula draft import {manuscript.id} FILE`"
        )


@draft.command("import")
@click.argument("first")
@click.argument("file", required=False, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--title", help="The new manuscript's title (default: the file's name).")
@click.option("--json", "as_json", is_flag=True)
def import_command(first: str, file: Path | None, title: str | None, as_json: bool) -> None:
    """Import a .txt or Markdown FILE (one document per `#`/`##` heading): `fabula draft import FILE`
    makes a manuscript of it, `fabula draft import ID FILE` adds to manuscript ID."""
    from fabula.service.drafts import import_file, read_text_file

    store = _store()
    if file is None:
        path = Path(first)
        if not path.is_file():
            raise click.BadParameter(f"no file {first!r}", param_hint="FILE")
        read_text_file(path)  # a bad file is refused before a manuscript is made for it
        manuscript_id = store.create(title or path.stem.replace("-", " ").replace("_", " ")).id
    else:
        path, manuscript_id = file, store.resolve(first)
    with store.changing(manuscript_id) as manuscript:
        added = import_file(manuscript, path)
    if as_json:
        _echo_json({"id": manuscript.id, "documents": [{"id": d.id, "title": d.title} for d in added]})
        return
    click.echo(manuscript.id)
    for doc in added:
        notice(f"  {manuscript.id}:{doc.id}  {doc.title}  ({len(doc.text.split())} words)")


@draft.command("list")
def list_command() -> None:
    """Every manuscript: id, title, documents, words, the model's share."""
    for manuscript in _store().list():
        shares = manuscript.attribution()
        size = sum(shares.values()) or 1
        words = sum(len(d.text.split()) for d in manuscript.documents)
        click.echo(
            f"{manuscript.id}  {manuscript.title[:40]:40}  {len(manuscript.documents)} docs  {words} words  "
            f"model {shares['model_chars'] / size:.0%}"
        )


@draft.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="The manuscript with every document's head text and authors.")
def show(ref: str, as_json: bool) -> None:
    """A manuscript (ID) or one document (ID:DOC): its text, and who wrote how much of it."""
    from fabula.cowrite import attribution

    manuscript_id, doc_ref = _target(ref)
    manuscript = _store().load(manuscript_id)
    docs = [manuscript.document(doc_ref)] if doc_ref else manuscript.documents
    if as_json:
        _echo_json(
            {
                "id": manuscript.id,
                "title": manuscript.title,
                "attribution": manuscript.attribution(),
                "documents": [
                    {
                        "id": d.id,
                        "title": d.title,
                        "kind": d.kind,
                        "head": d.head,
                        "text": d.text,
                        "attribution": attribution.shares(d.runs),
                        "spans": attribution.spans(d.runs),
                    }
                    for d in docs
                ],
            }
        )
        return
    for doc in docs:
        shares = attribution.shares(doc.runs)
        click.echo(f"## {doc.title}\n\n{doc.text.rstrip()}\n")
        notice(
            f"{manuscript.id}:{doc.id} at {doc.head}: {shares['human_chars']} characters yours, "
            f"{shares['model_chars']} the model's"
        )


@draft.command("history")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True)
def history(ref: str, as_json: bool) -> None:
    """The document's history tree: every change, its verb, candidates and which was chosen."""
    manuscript_id, doc_ref = _target(ref)
    doc = _store().load(manuscript_id).document(doc_ref)
    tree = doc.tree()
    if as_json:
        _echo_json(tree)
        return
    for node in tree:
        mark = "*" if node["head"] else " "
        chosen = f" candidate {node['chosen'] + 1}/{node['candidates']}" if node["chosen"] is not None else ""
        span = f" {node['selection'][0]}..{node['selection'][1]}" if node["verb"] not in ("import",) else ""
        click.echo(
            f"{mark} {'  ' * node['depth']}{node['id']}  {node['verb']}{span}{chosen}  {node['characters']} chars"
        )


def _moved(ref: str, move: str, *args: Any) -> None:
    manuscript_id, doc_ref = _target(ref)
    with _store().changing(manuscript_id) as manuscript:
        doc = manuscript.document(doc_ref)
        node = getattr(doc, move)(*args)
    notice(f"{manuscript.id}:{doc.id} is now at {node.id} ({node.verb})")


@draft.command("undo")
@click.argument("ref")
def undo(ref: str) -> None:
    """Step back to the parent of the current version."""
    _moved(ref, "undo")


@draft.command("redo")
@click.argument("ref")
def redo(ref: str) -> None:
    """Step forward to the child version last visited."""
    _moved(ref, "redo")


@draft.command("restore")
@click.argument("ref")
@click.argument("node")
def restore(ref: str, node: str) -> None:
    """Make any version NODE (from `fabula draft history`) the current one."""
    _moved(ref, "restore", node)


@draft.command("swipe")
@click.argument("ref")
@click.argument("node")
@click.argument("candidate", type=click.IntRange(1))
def swipe(ref: str, node: str, candidate: int) -> None:
    """Take CANDIDATE (1-based) of an earlier change NODE instead: a new branch beside it."""
    _moved(ref, "swipe", node, candidate - 1)


@draft.command("diff")
@click.argument("ref")
@click.argument("a")
@click.argument("b", required=False)
def diff(ref: str, a: str, b: str | None) -> None:
    """A unified diff of versions A and B (default: the current one)."""
    manuscript_id, doc_ref = _target(ref)
    doc = _store().load(manuscript_id).document(doc_ref)
    click.echo(doc.diff(a, b or doc.head), nl=False)


@draft.command("edit")
@click.argument("ref")
@click.option(
    "--file", "source", type=click.File("r", encoding="utf-8"), required=True, help="The new text ('-' = stdin)."
)
def edit(ref: str, source: Any) -> None:
    """Your own edit: the document's whole new text; attribution follows each character."""
    from fabula.cowrite import attribution

    manuscript_id, doc_ref = _target(ref)
    with _store().changing(manuscript_id) as manuscript:
        doc = manuscript.document(doc_ref)
        node = doc.edit(source.read())
    shares = attribution.shares(doc.runs)
    notice(
        f"{manuscript.id}:{doc.id} at {node.id}: {shares['human_chars']} characters yours, "
        f"{shares['model_chars']} the model's"
    )


@draft.command("export")
@click.argument("manuscript_id")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help=".md .txt .docx .epub .fountain .json",
)
def export(manuscript_id: str, output: Path) -> None:
    """Write the manuscript, and beside it the provenance manifest stating who wrote what."""
    from fabula.service.drafts import export_manuscript

    settings = get_settings()
    path, sidecar = export_manuscript(_store().load(manuscript_id), output, settings)
    notice(f"wrote {path} and its provenance {sidecar}")


@draft.group("bible")
def bible() -> None:
    """A manuscript's story bible, in and out of SillyTavern World Info and NovelAI lorebooks."""


@bible.command("import")
@click.argument("manuscript_id")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
def bible_import(manuscript_id: str, file: Path) -> None:
    """Replace the bible with a World Info .json or a NovelAI .lorebook file's entries."""
    from fabula.cowrite.lorebook import read_lorebook

    entries, meta = read_lorebook(file)
    with _store().changing(manuscript_id) as manuscript:
        manuscript.bible, manuscript.lore_meta = entries, meta
    notice(f"{manuscript.id}: {len(entries)} entries from {meta['format']} ({file.name})")


@bible.command("export")
@click.argument("manuscript_id")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help=".json or .lorebook"
)
def bible_export(manuscript_id: str, output: Path) -> None:
    """Write the bible as SillyTavern World Info (.json) or a NovelAI lorebook (.lorebook)."""
    from fabula.cowrite.lorebook import write_lorebook

    manuscript = _store().load(manuscript_id)
    fmt = write_lorebook(manuscript.bible, manuscript.lore_meta, output)
    notice(f"wrote {len(manuscript.bible)} entries to {output} ({fmt})")


# ---- the verbs ------------------------------------------------------------------------------------

VERB_HELP = {
    "continue": "N continuations at the cursor (--start; default the end), to choose from.",
    "rewrite": "Rewrite the selection: --instruction TEXT or a preset "
    "(tense, plainer, dialogue, first-person, past-tense).",
    "expand": "The selection longer: the same events, more detail.",
    "shrink": "The selection shorter: the same events, fewer words.",
    "describe": "The selection's subject through the senses (sight, sound, smell, touch, taste), inserted after it.",
    "brainstorm": f"A list of ideas (--instruction {'|'.join(BRAINSTORM_KINDS)}); the document is unchanged.",
    "feedback": "A critique of the selection: fluency, flexibility, originality, elaboration, with quotations.",
}


def _verb_command(verb: str) -> click.Command:
    @click.argument("target")
    @click.option("--start", type=click.IntRange(0), help="Selection start (characters); continue: the cursor.")
    @click.option("--end", type=click.IntRange(0), help="Selection end (characters).")
    @click.option("--instruction", default="", help="rewrite: what to do; brainstorm: the kind of list.")
    @click.option("--lead", default="", help="continue: start from this text (a token alternative).")
    @click.option("--choose", type=click.IntRange(1), help="Apply this candidate (1-based) instead of the best.")
    @click.option(
        "--form", "verse_form", help="The document is a poem in this form (haiku, sonnet, ...): continue keeps it."
    )
    @click.option("--write", "write_file", is_flag=True, help="A file target: write the result back to the file.")
    @click.option("--engine", help="llamacpp (default), hf, openai or fake.")
    @click.option("--model", help="A model the engine can load.")
    @click.option(
        "--json", "as_json", is_flag=True, help="One JSON object: verb, document, text, candidates, provenance."
    )
    @click.option("--no-stream", is_flag=True, help="Accepted for scripts: verbs print their candidates when done.")
    @sampling_options
    def command(target: str, **options: Any) -> None:
        _run_verb(verb, target, options)

    command.__doc__ = VERB_HELP[verb]
    return click.command(verb, help=VERB_HELP[verb])(command)


def _run_verb(verb: str, target: str, options: dict[str, Any]) -> None:
    from fabula.service.drafts import VerbCall

    sampling = pop_sampling(options)
    params = build_params(sampling)
    n = params.n if sampling.get("n") is not None else 3
    if sampling.get("max_tokens") is None:
        params = params.with_(max_tokens=120)
    call = VerbCall(
        verb,
        options["start"],
        options["end"],
        options["instruction"],
        n,
        options["lead"],
        params.seed,
        None if options["choose"] is None else options["choose"] - 1,
        options["engine"],
        options["model"],
        form=options["verse_form"],
    )
    settings = get_settings()
    with token_progress(options["as_json"], verb, n, params.max_tokens) as counted:  # a bar per candidate
        call.on_text = counted
        doc, outcome, where = _run_on_target(target, call, params, settings, options)
    file_written = bool(options["write_file"]) if Path(target).is_file() else None
    _render(doc, outcome, params, options["as_json"], where, file_written)


def _run_on_target(target: str, call: Any, params: Any, settings: Any, options: dict[str, Any]) -> tuple[Any, Any, str]:
    """(the document after the verb, its outcome, where it is) for a file or a manuscript's document."""
    from fabula.cowrite.manuscript import Document
    from fabula.files import write_atomic
    from fabula.service.drafts import run_call, so_far

    path = Path(target)
    if path.is_file():
        kind = "poem" if options["verse_form"] else "chapter"
        doc = Document.new("d1", path.stem, _read_plain(path), kind, options["verse_form"] or "")
        outcome = run_call(doc, [], call, params, settings)
        if options["write_file"] and outcome.node is not None:
            write_atomic(path, doc.text)
        return doc, outcome, str(path)
    if options["write_file"]:
        raise click.BadParameter("--write is for a file target; a manuscript keeps every change", param_hint="--write")
    manuscript_id, doc_ref = _target(target)
    store = _store()
    with store.changing(manuscript_id) as manuscript:
        doc = manuscript.document(doc_ref)
        outcome = run_call(doc, manuscript.entries(), call, params, settings, so_far(manuscript, doc))
    return doc, outcome, f"{manuscript.id}:{doc.id}"


def _read_plain(path: Path) -> str:
    from fabula.errors import InvalidParam

    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidParam("file", str(path), "is not UTF-8 text", hint="save it as UTF-8 and try again") from None


def _render(doc: Any, outcome: Any, params: Any, as_json: bool, where: str, file_written: bool | None) -> None:
    """The candidates (or items, or critique), and what was applied where; `file_written` is None
    for a manuscript's document, else whether the file was written."""
    from fabula.service.drafts import outcome_json

    data = outcome_json(doc, outcome, params)
    if as_json:
        _echo_json(data)
        return
    result = outcome.result
    if result.verb == "brainstorm":
        for i, item in enumerate(result.items):
            click.echo(f"{i + 1}. {item}")
        return
    if result.feedback is not None:
        for name, c in result.feedback.items():
            click.echo(f'{name}: {c["score"]}/5  {c["comment"]}\n    "{c["quote"]}"')
        return
    for i, candidate in enumerate(result.candidates):
        mark = "→" if i == result.chosen else " "
        label = f" ({candidate['sense']})" if "sense" in candidate else ""
        click.echo(f"{mark} {i + 1}{label}: {candidate['text'].strip()}\n")
    shares = data["provenance"]["attribution"]
    if outcome.node is not None:
        share = f"{shares['model_chars']} of {shares['model_chars'] + shares['human_chars']} characters now the model's"
        if file_written is not None:  # a plain file keeps no history: another candidate is another run
            written = "written to the file" if file_written else "the file is unchanged without --write"
            notice(
                f"candidate {result.chosen + 1} applied ({written}); another: the same command with "
                f"--choose K ({share})"
            )
        else:
            notice(
                f"applied candidate {result.chosen + 1} as {outcome.node.id} in {where}; another: "
                f"`fabula draft swipe {where} {outcome.node.id} K` ({share})"
            )


for _verb in VERBS:
    draft.add_command(_verb_command(_verb))
