"""Long-form plans: entities that round-trip through text, the level-by-level writer with bounded
retries, resume after an interruption, regenerate and undo, the story bible, consistency checks,
and the exports (Fountain parsed by screenplain, PDF, EPUB)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import jsonschema
import pytest
from click.testing import CliRunner

from fabula.backends.fake import FakeBackend
from fabula.cli.main import cli
from fabula.errors import FormError, InvalidParam
from fabula.plan import book, fountain, schemas
from fabula.plan.bible import Entry, select
from fabula.plan.consistency import check_plan
from fabula.plan.continuity import digest, unit_text
from fabula.plan.cowrite import edit, editable_text, export, new_plan, regenerate
from fabula.plan.entities import LEVELS, PlanParseError, parse_level, render_level
from fabula.plan.model import Plan
from fabula.plan.rename import rename_character
from fabula.plan.runner import PlanWriter
from fabula.plan.store import PlanStore
from fabula.settings import Settings
from tests.conftest import npm_package

CAST = {
    "characters": [
        {"name": "Mara", "description": "A lighthouse keeper who wants to leave the island."},
        {"name": "Tomas", "description": "A smuggler who needs the light put out."},
    ]
}
BEATS = {
    "beats": [
        {"beat": b, "summary": f"{b}: something happens at the lighthouse."} for b in ("Ki", "Sho", "Ten", "Ketsu")
    ]
}


def _scene(beat: str, place: str) -> dict[str, object]:
    return {
        "beat": beat,
        "setting": "INT.",
        "place": place,
        "time": "NIGHT",
        "characters": ["Mara", "Tomas"],
        "summary": f"Mara and Tomas argue in the {place.lower()}.",
    }


SCENES = {
    "scenes": [
        _scene("Ki", "Lamp Room"),
        _scene("Sho", "Lamp Room"),
        _scene("Ten", "Cellar"),
        _scene("Ketsu", "Lamp Room"),
    ]
}
PLACES = {
    "places": [
        {"place": "Lamp Room", "description": "Glass on every side and the sea below."},
        {"place": "Cellar", "description": "Damp stone, oil barrels, one candle."},
    ]
}


MARA_SAYS = [
    "You will not put out my light, not tonight.",
    "Go down to the cellar and count the barrels.",
    "I heard the bell from the reef an hour ago.",
    "Take the boat and leave before the tide turns.",
    "Whose rope is this, tied to my railing?",
]
TOMAS_SAYS = [
    "Then the ships will find the rocks.",
    "There is more oil here than any keeper needs.",
    "The bell rings when the wind is from the east.",
    "I will come back for you when it is over.",
    "Mine, and it held a better boat than yours.",
]


def _dialogue(k: int) -> str:
    return json.dumps(
        {
            "action": f"The lamp turns, slow beat {k}.",
            "lines": [
                {"character": "Mara", "line": MARA_SAYS[k % 5]},
                {"character": "Tomas", "line": TOMAS_SAYS[k % 5]},
            ],
        }
    )


SCRIPT = [
    json.dumps({"title": "The Last Light"}),
    json.dumps(CAST),
    json.dumps(BEATS),
    json.dumps(SCENES),
    json.dumps(PLACES),
] + [_dialogue(k) for k in range(4)]


@pytest.fixture
def fake(settings: Settings) -> FakeBackend:
    return FakeBackend("scripted", settings, scripts=SCRIPT)


def _plan(**kw: object) -> Plan:
    """A plan whose units are written without the story so far, so one script serves each step
    (the tests of the story so far script the summaries too)."""
    return new_plan(
        "screenplay",
        "A lighthouse keeper must choose between the ships and her brother.",
        template="kishotenketsu",
        cast=2,
        seed=7,
        **{"context": False, **kw},
    )  # type: ignore[arg-type]


def _written(fake: FakeBackend, store: PlanStore) -> Plan:
    plan = _plan()
    PlanWriter(fake, store.save).run(plan)
    return plan


def test_every_level_round_trips_through_its_text(fake: FakeBackend, settings: Settings) -> None:
    plan = _written(fake, PlanStore(settings.home))
    cast = tuple(c.name for c in plan.characters or ())
    for level in ("title", "characters", "beats", "scenes", "places"):
        assert parse_level(level, render_level(level, plan.get(level)), cast) == plan.get(level)
    assert parse_level("dialogue", render_level("dialogue", plan.units[2]), cast) == plan.units[2]
    assert set(LEVELS) >= {"title", "dialogue", "prose"}


@pytest.mark.parametrize(
    ("level", "text", "message"),
    [
        ("characters", "Name: Mara\n", "Description: is missing"),
        ("characters", "Name: mara x1\nDescription: who", "capitalised words"),
        ("characters", "Name: Mara\nDescription: a\n\nName: Mara\nDescription: b", "names repeat"),
        ("scenes", "Beat: Ki\nHeading: KITCHEN AT NIGHT\nCharacters: Mara\nSummary: x", "INT. PLACE - DAY"),
        ("beats", "Beat: Ki\nSumary: x", "line 2: expected one of Beat:, Summary:"),
        ("dialogue", "Action: x\nMARRA: hello", "'MARRA' is not in the cast"),
    ],
)
def test_a_level_that_does_not_parse_names_the_line(level: str, text: str, message: str) -> None:
    with pytest.raises(PlanParseError, match=message):
        parse_level(level, text, ("Mara", "Tomas"))


def test_the_writer_descends_the_levels_and_saves_after_every_step(fake: FakeBackend, settings: Settings) -> None:
    saved: list[int] = []
    plan = _plan()
    PlanWriter(fake, lambda p: saved.append(len(p.pending()))).run(plan)
    assert saved == [8, 7, 6, 5, 4, 3, 2, 1, 0]  # one save per step, nothing pending at the end
    assert plan.title == "The Last Light" and [c.name for c in plan.characters or ()] == ["Mara", "Tomas"]
    assert [s.heading for s in plan.scenes or ()][2] == "INT. CELLAR - NIGHT"
    assert [entry["step"] for entry in plan.log][-1] == "dialogue[3]"
    scene_step = next(e for e in plan.log if e["step"] == "dialogue[0]")
    injected = [b["name"] for b in scene_step["bible"] if b["injected"]]
    assert {"Mara", "Tomas", "Lamp Room"} <= set(injected)  # cast and place pulled in by keyword


def test_a_bad_answer_is_retried_with_the_next_seed_then_fails_clearly(settings: Settings) -> None:
    backend = FakeBackend("scripted", settings, scripts=[json.dumps({"title": "Ok"}), "{not json", json.dumps(CAST)])
    plan = _plan()
    writer = PlanWriter(backend, lambda p: None)
    writer.write_step(plan, "title")
    writer.write_step(plan, "characters")
    entry = plan.log[-1]
    assert entry["attempts"] == 2 and "attempt 1" in entry["failures"][0]
    assert entry["seed"] != plan.log[0]["seed"]
    backend.scripts = ["{broken"]
    with pytest.raises(PlanParseError, match="no usable answer in 3 attempts.*fabula plan resume"):
        writer.write_step(plan, "beats")
    assert plan.characters is not None and plan.beats is None  # earlier steps kept
    assert len(backend.requests) == 6  # title, characters twice, beats three times: each request recorded


def test_an_interrupted_job_resumes_where_it_stopped(fake: FakeBackend, settings: Settings) -> None:
    store = PlanStore(settings.home)
    plan = _plan()

    def save_then_crash(p: Plan) -> None:
        store.save(p)
        if len(p.pending()) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        PlanWriter(fake, save_then_crash).run(plan)
    again = store.load(plan.id[:10])
    assert again.pending() == ["dialogue[1]", "dialogue[2]", "dialogue[3]"] and len(again.units) == 1
    PlanWriter(FakeBackend("scripted", settings, scripts=[_dialogue(k) for k in range(1, 4)]), store.save).run(again)
    assert again.complete and len(again.log) == 9 and again.units[0].action.endswith("beat 0.")


def test_regenerating_one_scene_redoes_its_dialogue_and_undo_restores(fake: FakeBackend, settings: Settings) -> None:
    store = PlanStore(settings.home)
    plan = _written(fake, store)
    before = plan.snapshot()
    fake.scripts = [
        json.dumps(_scene("Ten", "Boathouse")),
        json.dumps({"places": [{"place": "Boathouse", "description": "Ropes and a leaking hull."}]}),
        _dialogue(9),
    ]
    redone = regenerate(PlanWriter(fake, store.save), plan, "scenes[2]")
    assert redone == ["scenes[2]", "dialogue[2]"]
    assert plan.scenes[2].place == "Boathouse" and plan.units[2].action.endswith("beat 9.")  # type: ignore[index]
    assert plan.units[1] == from_before(before, 1) and {p.name for p in plan.places or ()} >= {"Boathouse", "Cellar"}
    plan.undo()
    assert plan.snapshot() == before


def test_regenerating_a_character_renames_them_everywhere(fake: FakeBackend, settings: Settings) -> None:
    from dataclasses import replace

    from fabula.continuity.ledger import Fact
    from fabula.plan.continuity import stale_summaries

    store = PlanStore(settings.home)
    plan = _written(fake, store)
    plan.beats = tuple(replace(b, summary=f"Tomas lies to Mara in {b.name}.") for b in plan.beats or ())
    plan.add_to_bible(Entry("fact", "The debt", "Tomas owes the harbour master."))
    plan.pins.append(Fact("Tomas", "holds", "rope", 1, 0, "TOMAS keeps the rope"))
    plan.summaries[0] = {"text": "Tomas and Mara argue.", "of": digest(unit_text(plan.units[0]))}
    # his name in the cast, 4 beats, 4 scene summaries and casts, 4 speakers, a summary, the bible, a pin
    assert rename_character(plan, "Tomas", "Tobias") == 1 + 4 + 8 + 4 + 1 + 1 + 2
    held = json.dumps([plan.snapshot(), [e.text for e in plan.bible], [f.text for f in plan.pins], plan.summaries])
    assert "Tomas" not in held and "TOMAS" not in held and "Tobias lies to Mara" in held and "TOBIAS keeps" in held
    assert stale_summaries(plan, 1) == []  # renamed alike, the summary still describes its chapter

    plan = _written(fake, store)
    plan.beats = tuple(replace(b, summary=f"Tomas lies to Mara in {b.name}.") for b in plan.beats or ())
    scene = {**_scene("Ki", "Lamp Room"), "characters": ["Mara", "Tobias"]}
    fake.scripts = [json.dumps({"name": "Tobias", "description": "A fisherman who owes Mara his life."})]
    fake.scripts += [json.dumps({**scene, "beat": b}) for b in ("Ki", "Sho", "Ten", "Ketsu")]
    fake.scripts += [_dialogue(k).replace('"Tomas"', '"Tobias"') for k in range(4)]
    redone = regenerate(PlanWriter(fake, store.save), plan, "characters[1]")
    assert redone[:2] == ["characters[1]", "renamed Tomas to Tobias in 16 texts"]  # beats, scenes, dialogue
    assert all(b.summary.startswith("Tobias lies") for b in plan.beats or ())
    assert check_plan(plan)["violations"] == []


def from_before(snapshot: dict[str, object], index: int) -> object:
    from fabula.plan.entities import from_data

    return from_data("dialogue", snapshot["units"][str(index)])  # type: ignore[index]


def test_a_hand_edit_that_does_not_parse_changes_nothing(fake: FakeBackend, settings: Settings) -> None:
    plan = _written(fake, PlanStore(settings.home))
    before = plan.snapshot()
    with pytest.raises(FormError, match="not in the cast"):
        edit(plan, "dialogue[0]", "Action: The storm.\nMARRA: Hello.")
    assert plan.snapshot() == before and not any(h["label"].startswith("edit") for h in plan.history)
    text = editable_text(plan, "characters").replace("Tomas", "Tobias")
    cleared = edit(plan, "characters", text, cascade=True)
    assert "beats" in cleared and plan.beats is None and plan.pending()[0] == "beats"
    with pytest.raises(InvalidParam, match="characters has elements 0..1"):
        regenerate(PlanWriter(fake, lambda p: None), _written(fake, PlanStore(settings.home)), "characters[5]")


def test_consistency_finds_strangers_and_misspelled_names(fake: FakeBackend, settings: Settings) -> None:
    plan = _written(fake, PlanStore(settings.home))
    assert check_plan(plan)["ok"]
    edit(plan, "dialogue[1]", "Action: Tomass lights a match.\nMARA: Liar, you said the light would stay.")
    report = check_plan(plan)
    assert report["violations"] == ["scene 2 action: 'Tomass' looks like a misspelling of 'Tomas'"]  # not 'Liar'
    assert "characters who never speak" not in " ".join(report["warnings"])


def test_repetition_and_name_only_lines_are_violations_whoever_wrote_them(
    fake: FakeBackend, settings: Settings
) -> None:
    store = PlanStore(settings.home)
    plan = _written(fake, store)
    assert check_plan(plan)["ok"]
    edit(plan, "dialogue[1]", "Action: The lamp turns, slow.\nMARA: Tomas.\nTOMAS: Mara, Mara!")
    violations = check_plan(plan)["violations"]
    assert violations == [
        "scene 2: Mara's line is only a name: 'Tomas.'",
        "scene 2: Tomas's line is only a name: 'Mara, Mara!'",
    ]
    # the logline said as dialogue, and a phrase the work keeps coming back to
    logline = "A lighthouse keeper must choose between the ships and her brother."
    phrase = "the cold wind off the grey sea"
    edit(plan, "dialogue[1]", f"Action: {phrase}.\nMARA: {logline}\nTOMAS: And {phrase}, and {phrase}, and {phrase}.")
    violations = check_plan(plan)["violations"]
    assert "scene 2 repeats the logline: 'a lighthouse keeper must choose between the ships'" in violations
    assert "the screenplay says 'the cold wind off the grey' 4 times, four of them within 2,000 words" in violations
    store.save(plan)
    result = CliRunner().invoke(cli, ["plan", "check", plan.id])
    assert result.exit_code == 3 and "violation: scene 2 repeats the logline" in result.output


def test_a_scene_whose_lines_are_only_names_is_written_again(settings: Settings) -> None:
    names_only = json.dumps(
        {
            "action": "The lamp turns.",
            "lines": [{"character": "Mara", "line": "Tomas!"}, {"character": "Tomas", "line": "Mara."}],
        }
    )
    fake = FakeBackend("scripted", settings, scripts=[*SCRIPT[:5], names_only, *SCRIPT[5:]])
    plan = _plan()
    PlanWriter(fake, lambda p: None).run(plan)
    first = next(entry for entry in plan.log if entry["step"] == "dialogue[0]")
    assert first["attempts"] == 2 and "Mara's line is only a name: 'Tomas!'" in first["failures"][0]
    assert plan.units[0].lines[0].text == MARA_SAYS[0] and check_plan(plan)["ok"]


def test_the_bible_injects_by_keyword_and_style_under_a_budget() -> None:
    entries = [
        Entry("style", "Voice", "Terse, present tense, no adverbs."),
        Entry("fact", "The lantern", "The lantern was lit in 1802 and never went out.", ("lamp", "light")),
        Entry("fact", "Trivia", "x " * 400),
    ]
    context, record = select(entries, "Mara lights the lamp at dusk.", budget=60)
    assert context.startswith("Story bible:\n- Voice (style)") and "1802" in context
    why = {r["name"]: r for r in record}
    assert why["Voice"]["why"] == "style note" and why["The lantern"]["why"] == "keyword 'lamp'"
    assert "Trivia" not in context


def test_the_bible_finds_related_entries_by_embedding() -> None:
    entries = [Entry("fact", "The lantern", "An old brass lamp whose flame guides sailors through the night.")]
    _, record = select(entries, "A beam of light sweeps across the dark sea to warn the ships.")
    assert record[0]["injected"] and record[0]["why"].startswith("embedding")
    _, unrelated = select(entries, "The accountant files quarterly tax returns.")
    assert not unrelated or not unrelated[0]["injected"]


def test_schemas_keep_names_apart_and_scenes_to_the_cast() -> None:
    groups = schemas.initial_groups(5)
    assert len(set("".join(groups))) == len("".join(groups))
    validator = jsonschema.Draft202012Validator(schemas.scenes_schema(["Ki"], ["Mara", "Tomas"]))
    assert not list(validator.iter_errors({"scenes": [_scene("Ki", "Lamp Room")]}))
    stranger = _scene("Ki", "Lamp Room") | {"characters": ["Pablo"]}
    assert list(validator.iter_errors({"scenes": [stranger]}))
    people = jsonschema.Draft202012Validator(schemas.characters_schema(2))
    assert list(people.iter_errors({"characters": [CAST["characters"][0], CAST["characters"][0]]}))  # same initials
    lines = jsonschema.Draft202012Validator(schemas.dialogue_schema(["Mara"]))
    assert list(lines.iter_errors({"action": "The storm.", "lines": [{"character": "Mara", "line": "NEXT DAY"}] * 2}))
    assert not list(lines.iter_errors({"action": "The storm.", "lines": [{"character": "Mara", "line": "No."}] * 2}))
    assert list(lines.iter_errors({"action": "The storm.", "lines": [{"character": "Mara", "line": "No\nway."}] * 2}))
    text = json.dumps([schemas.characters_schema(3), schemas.dialogue_schema(["Mara"]), schemas.title_schema()])
    assert "{-" not in text  # a negative repeat count is a grammar llama.cpp refuses


def test_fountain_parses_in_screenplain_and_renders_pdf_and_html(
    fake: FakeBackend, settings: Settings, tmp_path: Path
) -> None:
    plan = _written(fake, PlanStore(settings.home))
    plan.units[0] = type(plan.units[0])("INT. A TRICK - DAY", plan.units[0].lines)  # action that looks like a heading
    text = fountain.to_fountain(plan)
    report = fountain.check(text, plan)
    assert report["parsed"] and report["violations"] == []
    assert report["scenes"] == 4 and report["speaking_characters"] == ["MARA", "TOMAS"]
    assert "!INT. A TRICK - DAY" in text
    pdf = export(plan, tmp_path / "play.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    assert "MARA" in export(plan, tmp_path / "play.html").read_text()
    from xml.etree import ElementTree  # Final Draft: XML that an independent parser reads

    fdx = ElementTree.parse(export(plan, tmp_path / "play.fdx")).getroot()
    kinds = [p.get("Type") for p in fdx.iter("Paragraph")]
    assert fdx.tag == "FinalDraft" and kinds.count("Scene Heading") == 4
    assert kinds.count("Character") == report["dialogue_blocks"] and "Dialogue" in kinds
    with pytest.raises(InvalidParam, match="exports to .fountain"):
        export(plan, tmp_path / "play.epub")


@pytest.fixture(scope="session")
def fountain_js(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fountain-js, a second Fountain parser (screenplain is the first)."""
    return npm_package(tmp_path_factory, "fountain-js@1")


def test_a_second_fountain_parser_reads_the_same_script(
    fake: FakeBackend, settings: Settings, tmp_path: Path, fountain_js: Path
) -> None:
    plan = _written(fake, PlanStore(settings.home))
    script = export(plan, tmp_path / "play.fountain")
    parser = Path(__file__).parent / "js" / "parse_fountain.js"
    env = os.environ | {"NODE_PATH": str(fountain_js)}
    done = subprocess.run(["node", str(parser), str(script)], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    theirs = json.loads(done.stdout)
    ours = fountain.check(script.read_text(encoding="utf-8"), plan)
    assert theirs["scenes"] == ours["scenes"] == len(plan.scenes or ())
    assert theirs["dialogue_blocks"] == ours["dialogue_blocks"]
    assert theirs["characters"] == ours["speaking_characters"]


def test_fountain_boneyard_and_notes_in_generated_text_lose_no_line(
    fake: FakeBackend, settings: Settings, tmp_path: Path
) -> None:
    """`/* ... */` and `[[ ... ]]` in a line hid it from every Fountain parser; the export now
    splits them and re-reads the script before writing it."""
    plan = _written(fake, PlanStore(settings.home))
    unit = plan.units[0]
    first = type(unit.lines[0])(unit.lines[0].character, "Look /* there, by the rocks")
    last = type(unit.lines[-1])(unit.lines[-1].character, "and here */ [[a note]] too.")
    plan.units[0] = type(unit)(unit.action, (first, *unit.lines[1:-1], last))
    text = fountain.to_fountain(plan)
    assert fountain.check(text, plan)["violations"] == []
    assert "there, by the rocks" in fountain.to_html(text) and "a note" in fountain.to_html(text)
    assert export(plan, tmp_path / "play.fountain").read_text(encoding="utf-8") == text


CHAPTERS = [
    "Mara climbed the stairs at dusk. She counted the ships in the dark water and wrote each name in the log. "
    "Tomas waited below with a lantern of his own, and the tide came in over the rocks.",
    "In the cellar the oil barrels stood in rows. Tomas rolled one to the door and listened for the keeper. "
    "Mara found him there and asked whose rope was tied to her railing.",
    "The bell on the reef rang all night. Mara lit the great lamp and did not look down. "
    "Tomas rowed out alone, cursing the light that kept the smugglers away.",
    "At dawn the sea was flat and grey. Mara walked down to the jetty and found his boat empty. "
    "She tied it fast, went back up the stairs and put out the lamp for the last time.",
]
SUMMARIES = [
    "Mara counts the ships from the lighthouse while Tomas waits below with a lantern.",
    "Tomas gathers oil in the cellar and Mara catches him at the door.",
    "Mara keeps the lamp lit all night while Tomas rows out to the smugglers.",
    "Mara finds Tomas's boat empty at dawn and puts out the lamp.",
]


def test_a_story_plan_writes_chapters_to_markdown_and_epub(settings: Settings, tmp_path: Path) -> None:
    """Each chapter is told the story so far: the summaries before it and how the last one ended."""
    plan = new_plan("story", "A keeper and a smuggler.", template="kishotenketsu", cast=2, seed=1)
    steps = [text for pair in zip(CHAPTERS, SUMMARIES, strict=True) for text in pair]
    fake = FakeBackend("scripted", settings, scripts=SCRIPT[:5] + steps)
    PlanWriter(fake, lambda p: None).run(plan)
    assert plan.complete and plan.steps()[-1] == "prose[3]"
    assert [plan.summaries[i]["text"] for i in range(4)] == SUMMARIES
    third = fake.requests[5 + 4].messages[-1].content  # the prompt of chapter 3
    assert "Story so far:" in third and SUMMARIES[0] in third and SUMMARIES[1] in third
    assert "whose rope was tied to her railing." in third  # how chapter 2 ended
    assert SUMMARIES[2] not in third
    logged = {entry["step"]: entry for entry in plan.log}
    assert logged["prose[2]"]["so_far"]["units"] == [1, 2] and logged["prose[2]"]["so_far"]["passage_from"] == 2
    assert logged["summary[3]"]["prompt"].startswith("summary@")
    assert book.to_markdown(plan).count("## Chapter") == 4
    path = export(plan, tmp_path / "book.epub")
    with zipfile.ZipFile(path) as epub:
        first = epub.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
        opf = ElementTree.fromstring(epub.read("OEBPS/content.opf"))
        spine = opf.find("{http://www.idpf.org/2007/opf}spine")
        assert spine is not None and len(spine) == 4
        for name in epub.namelist():
            if name.endswith(".xhtml"):
                ElementTree.fromstring(epub.read(name))  # well-formed XHTML
    plan.units[1] = "A bell\x07 rang\x0b twice.\x00 Then silence."  # control characters XML forbids
    with zipfile.ZipFile(export(plan, tmp_path / "bell.epub")) as epub:
        chapter = epub.read("OEBPS/chapter1.xhtml").decode("utf-8")
        ElementTree.fromstring(chapter)
        assert "A bell rang twice. Then silence." in chapter
    checker = Path("/usr/share/java/epubcheck.jar")  # Debian's epubcheck (.ci/run installs it): the reference
    if checker.is_file() and shutil.which("java"):
        for book_path in (path, tmp_path / "bell.epub"):
            command = ["java", "-jar", str(checker), str(book_path)]
            judged = subprocess.run(command, capture_output=True, text=True, timeout=300)
            assert judged.returncode == 0, judged.stdout[-800:] + judged.stderr[-800:]
    elif os.environ.get("CI"):
        pytest.fail("epubcheck is missing in CI: .ci/run installs it")
    from docx import Document  # Word: the chapters under Heading 1, as an editor opens them

    word = Document(str(export(plan, tmp_path / "book.docx")))
    headings = [p.text for p in word.paragraphs if p.style.name == "Heading 1"]
    assert len(headings) == 4 and headings[0].startswith("Chapter 1")
    assert any("Mara climbed the stairs" in p.text for p in word.paragraphs if p.style.name == "Normal")
    empty = new_plan("story", "Nothing yet.", template="kishotenketsu", cast=2, seed=1)
    with pytest.raises(InvalidParam, match="no written chapter"):
        export(empty, tmp_path / "empty.epub")
    assert not (tmp_path / "empty.epub").exists()


def test_a_scene_that_drifts_out_of_english_is_a_violation(fake: FakeBackend, settings: Settings) -> None:
    plan = _written(fake, PlanStore(settings.home))
    edit(plan, "dialogue[2]", "Action: El faro gira.\nMARA: Lindi ala kesinci sakala, bir yolda gitti ve eve döndü.")
    (violation,) = check_plan(plan)["violations"]
    assert violation.startswith("scene 3 is not in English: passage 1 reads as tr")
