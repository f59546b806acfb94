"""Manuscripts: attribution that stays exact through typing, generating, editing and deleting; the
history tree (swipes on any change, undo, redo, restore, diff); the store across a restart; the
signed manifest with the human and model shares."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fabula.cowrite import attribution
from fabula.cowrite.attribution import HUMAN
from fabula.cowrite.manuscript import Document
from fabula.cowrite.store import ManuscriptStore
from fabula.errors import InvalidParam


def _authors(doc: Document) -> str:
    """One letter per character: h (the writer) or the number of the node that wrote it."""
    return "".join(("h" if a == HUMAN else a.rsplit(".", 1)[1]) * n for a, n in doc.runs)


def _candidates(*texts: str) -> list[dict[str, object]]:
    return [{"text": t, "seed": i, "ok": True} for i, t in enumerate(texts)]


def test_typing_generating_editing_inside_and_deleting_across_keep_exact_shares() -> None:
    doc = Document.new("d1", "one", "Mara climbed.")  # the writer types 13 characters
    assert attribution.shares(doc.runs) == {"human_chars": 13, "model_chars": 0}
    doc.apply("continue", 13, 13, _candidates(" The lamp was cold."), 0)  # the model writes 19
    assert doc.text == "Mara climbed. The lamp was cold."
    assert attribution.shares(doc.runs) == {"human_chars": 13, "model_chars": 19}
    # the writer types inside the generated text: "lamp" -> "old lamp"
    doc.edit("Mara climbed. The old lamp was cold.")
    assert _authors(doc) == "h" * 13 + "1" * 5 + "h" * 4 + "1" * 14
    assert attribution.shares(doc.runs) == {"human_chars": 17, "model_chars": 19}
    # and deletes across both: "climbed. The old " goes (the space kept is the one after "Mara")
    doc.edit("Mara lamp was cold.")
    removed_human = len("climbed.") + len("old ")  # 8 + 4 of the writer's
    removed_model = len(" The ")  # 5 of the model's
    assert attribution.shares(doc.runs) == {"human_chars": 17 - removed_human, "model_chars": 19 - removed_model}
    assert attribution.total(doc.runs) == len(doc.text)
    assert _authors(doc) == "h" * 5 + "1" * 14  # "Mara " hers; "lamp was cold." the model's


def test_a_verb_changes_nothing_outside_its_selection_and_rejects_a_bad_span() -> None:
    text = "First paragraph stays.\n\nThis sentence is rewritten.\n\nLast paragraph stays."
    doc = Document.new("d1", "t", text)
    start = text.index("This")
    end = start + len("This sentence is rewritten.")
    doc.apply("rewrite", start, end, _candidates("A new sentence.", "Another."), 1)
    assert doc.text == text[:start] + "Another." + text[end:]
    with pytest.raises(InvalidParam, match="selection"):
        doc.apply("rewrite", 5, 500, _candidates("x"), 0)
    with pytest.raises(InvalidParam, match="candidates 1..1"):
        doc.apply("rewrite", 0, 4, _candidates("x"), 3)


def test_swipe_on_an_earlier_change_undo_redo_restore_and_diff() -> None:
    doc = Document.new("d1", "t", "The door opened.")
    first = doc.apply("continue", 16, 16, _candidates(" A cat came in.", " Nobody was there."), 0)
    second = doc.apply("continue", len(doc.text), len(doc.text), _candidates(" It purred."), 0)
    assert doc.text == "The door opened. A cat came in. It purred."
    # swipe the first change (not the last): a sibling branch with the other candidate
    other = doc.swipe(first.id, 1)
    assert other.parent == first.parent and doc.text == "The door opened. Nobody was there."
    assert second.id in doc.nodes and doc.nodes[second.id].text.endswith("It purred.")  # the old branch stays
    doc.undo()
    assert doc.text == "The door opened."
    doc.redo()  # back to the child visited last: the swiped branch
    assert doc.head == other.id
    doc.restore(second.id)
    assert doc.text.endswith("It purred.")
    assert "+The door opened. A cat came in. It purred." in doc.diff(other.id, second.id)
    tree = doc.tree()
    assert [n["id"] for n in tree] == ["d1.0", first.id, second.id, other.id]
    assert [n["depth"] for n in tree] == [0, 1, 2, 1] and [n["head"] for n in tree].count(True) == 1
    doc.restore("d1.0")
    with pytest.raises(InvalidParam, match="first version"):
        doc.undo()


def test_the_store_keeps_exactly_what_was_acknowledged_across_a_restart(tmp_path: Path) -> None:
    store = ManuscriptStore(tmp_path)
    manuscript = store.create("The Keeper")
    with store.changing(manuscript.id) as m:
        doc = m.add("Chapter 1", "Mara kept the light.")
        doc.apply("continue", 20, 20, _candidates(" It never failed.", " It failed once."), 1)
    with pytest.raises(RuntimeError), store.changing(manuscript.id) as m:
        m.documents[0].edit("lost")
        raise RuntimeError("the request failed: nothing of it may be saved")
    again = ManuscriptStore(tmp_path).load(manuscript.id[:8])  # a new process, a prefix of the id
    reloaded = again.documents[0]
    assert reloaded.text == "Mara kept the light. It failed once."
    assert reloaded.nodes[reloaded.head].candidates[0]["text"] == " It never failed."  # unchosen, kept
    assert attribution.shares(reloaded.runs) == {"human_chars": 20, "model_chars": 16}


def test_the_manifest_states_the_shares_and_verifies_until_one_byte_changes(tmp_path: Path) -> None:
    from fabula.responsible.provenance import keygen, verify
    from fabula.service.drafts import export_manuscript
    from fabula.settings import Settings

    settings = Settings(home=tmp_path)
    keygen(settings.signing_key_path)
    store = ManuscriptStore(tmp_path)
    manuscript = store.create("Signed")
    with store.changing(manuscript.id) as m:
        doc = m.add("One", "She wrote this.")
        doc.apply("continue", 15, 15, _candidates(" The model wrote this."), 0)
        m.add("Two", "All hers.")
    out = tmp_path / "book.md"
    path, sidecar = export_manuscript(store.load(manuscript.id), out, settings)
    manifest = json.loads(sidecar.read_text())
    assert manifest["attribution"]["human_chars"] == 15 + 9
    assert manifest["attribution"]["model_chars"] == len(" The model wrote this.")
    assert manifest["documents"][0]["generations"] == [
        {"id": "d1.1", "verb": "continue", "seed": None, "engine": "", "created": doc.nodes["d1.1"].created,
         "model": "", "characters": 22}
    ]  # fmt: skip
    assert verify(manifest, path.read_bytes())["valid"]
    tampered = bytearray(path.read_bytes())
    tampered[-2] ^= 1
    assert not verify(manifest, bytes(tampered))["valid"]
    forged = json.loads(sidecar.read_text())
    forged["attribution"]["human_chars"] += 1  # claiming one more character as the writer's
    assert not verify(forged, path.read_bytes())["valid"]


def test_a_screenwriters_manuscript_exports_as_fountain_that_screenplain_reads(tmp_path: Path) -> None:
    from fabula.plan.fountain import check
    from fabula.service.drafts import export_manuscript
    from fabula.settings import Settings

    store = ManuscriptStore(tmp_path)
    manuscript = store.create("Gull Rock")
    with store.changing(manuscript.id) as m:
        m.add("Scene 1", "INT. LIGHTHOUSE - NIGHT\n\nMara winds the clockwork.\n\nMARA\nEleven winters.\n")
        m.add("Scene 2", "EXT. SHINGLE - DAWN\n\nA green bottle.\n\nMARA\nMy own name?\n")
    path, _ = export_manuscript(store.load(manuscript.id), tmp_path / "play.fountain", Settings(home=tmp_path))
    report = check(path.read_text(encoding="utf-8"))
    assert report["parsed"] and report["scenes"] == 2 and report["speaking_characters"] == ["MARA"]
    assert report["dialogue_blocks"] == 2
