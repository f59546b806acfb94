"""The verbs' contracts: on a scripted engine where the text must be exact (resampling a broken
candidate, evidence that is the passage's own words), and on the embedded model where the
alternatives must be llama.cpp's own."""

from __future__ import annotations

import json

import pytest

from fabula.backends.fake import FakeBackend
from fabula.cowrite.verbs import ANCHOR_STEP, BEFORE_CHARS, VerbRequest, context, parse_items, run_verb
from fabula.errors import InvalidParam, Rejected
from fabula.sampling import SamplingParams
from fabula.settings import Settings

PASSAGE = "The bottle came in March. She did not open it. She set it by the kettle."
TEXT = "Mara kept the light.\n\n" + PASSAGE + "\n\nThe water boiled."
START = TEXT.index(PASSAGE)
END = START + len(PASSAGE)
PARAMS = SamplingParams(max_tokens=200)


def _engine(*scripts: str) -> FakeBackend:
    return FakeBackend("scripted", Settings(), scripts=list(scripts))


def test_a_candidate_that_breaks_the_contract_is_resampled_and_never_offered() -> None:
    # eleven long words: within shrink's token cap, yet more characters than the passage
    wordy = "Unquestionably, extraordinarily magnificent, incomprehensibly luminous, overwhelmingly " * 2
    engine = _engine(wordy.strip(), "A bottle in March; unopened, by the kettle.", "She left the March bottle shut.")
    result = run_verb(engine, VerbRequest("shrink", TEXT, START, END, n=2), PARAMS, seed=10)
    assert {c["text"] for c in result.candidates} == {
        "A bottle in March; unopened, by the kettle.",
        "She left the March bottle shut.",
    }
    # both candidates in one request (seeds 10 and 11), then the wordy one asked again with seed 12
    assert [(r.params.seed, r.params.n) for r in engine.requests] == [(10, 2), (12, 1)]
    with pytest.raises(Rejected, match="none of 3 candidates kept the contract"):
        run_verb(_engine(wordy.strip()), VerbRequest("shrink", TEXT, START, END, n=1), PARAMS, seed=1)
    # a long answer cannot grow: shrink's budget is capped below the passage, so it is cut at a sentence
    longer = PASSAGE + " And then a great deal more happened, none of it short."
    cut = run_verb(_engine(longer), VerbRequest("shrink", TEXT, START, END, n=1), PARAMS, seed=1)
    assert cut.candidates[0]["text"] == "The bottle came in March. She did not open it."
    unchanged = run_verb(
        _engine(PASSAGE, "It came in March, the bottle."), VerbRequest("rewrite", TEXT, START, END, n=1), PARAMS, 3
    )
    assert unchanged.candidates[0]["text"] == "It came in March, the bottle."


def test_neighbouring_selections_share_the_start_of_their_window() -> None:
    """The text before a selection starts on a fixed grid, so the prompts of selections near each
    other share a prefix (the engine's prompt reuse skips it); a short text is taken whole."""
    sentences = [f"Sentence {i} tells of the lighthouse and the sea." for i in range(200)]
    text = " ".join(sentences)
    starts = []
    for cursor in range(5000, 5400, 40):
        req = VerbRequest("rewrite", text, cursor, cursor + 20, n=1)
        window = context(req)[0].split(":\n", 1)[1]
        starts.append(text.index(window[:60]))
        assert BEFORE_CHARS - ANCHOR_STEP // 2 <= len(text[: req.start]) - starts[-1] <= BEFORE_CHARS + ANCHOR_STEP
        assert text[starts[-1] :].startswith("Sentence")  # at a sentence
    assert len(set(starts)) == 1
    short = VerbRequest("rewrite", TEXT, START, END, n=1)
    assert "Mara kept the light." in context(short)[0]


def test_the_prompt_carries_the_bible_and_the_text_around_the_selection() -> None:
    from fabula.plan.bible import Entry

    engine = _engine("She opened it at last.")
    lamp = Entry("fact", "The kettle", "It whistles like a gull.", ("kettle",))
    run_verb(engine, VerbRequest("rewrite", TEXT, START, END, "plainer", n=1, entries=[lamp]), PARAMS, seed=0)
    user = engine.requests[0].messages[-1].content
    assert "It whistles like a gull." in user and "Mara kept the light." in user and "The water boiled." in user
    assert "short common words" in user  # the preset's instruction, not its name


def test_brainstorm_collects_distinct_items_over_rounds() -> None:
    engine = _engine(
        " The tide\n2. the tide.\n3. A stranger", " A storm\n- A letter\n* The keeper's brother\n4. A stranger"
    )
    result = run_verb(engine, VerbRequest("brainstorm", TEXT, instruction="next"), PARAMS, seed=0)
    assert result.items == ["The tide", "A stranger", "A storm", "A letter", "The keeper's brother"]
    asked = engine.requests[0]
    assert asked.raw and asked.completion_prompt.endswith("Ten things that could happen next for this story:\n1.")
    assert "The water boiled." in asked.completion_prompt  # the story so far leads into the list
    assert parse_items('Ideas:\n1) One\n2. "Two".\nnot an item') == ["One", "Two"]
    with pytest.raises(InvalidParam, match="brainstorm lists"):
        VerbRequest("brainstorm", TEXT, instruction="recipes")


def test_feedback_quotations_are_the_passages_own_words() -> None:
    critique = {
        "fluency": {"score": 4, "comment": "Short sentences read easily.", "quote": "She did not open it."},
        "flexibility": {"score": 2, "comment": "One mood about the kettle.", "quote": "a kettle sang"},  # not there
        "originality": {"score": 9, "comment": "A bottle in March is fresh.", "quote": "The bottle came in March."},
        "elaboration": {"score": 3, "comment": "Little detail.", "quote": "She set it by the kettle."},
    }
    result = run_verb(_engine(json.dumps(critique)), VerbRequest("feedback", TEXT, START, END), PARAMS, seed=0)
    feedback = result.feedback
    assert feedback is not None
    assert feedback["fluency"] == {**critique["fluency"], "evidence": "quoted"}
    assert (
        feedback["flexibility"]["quote"] == "She set it by the kettle."
        and "replaced" in feedback["flexibility"]["evidence"]
    )
    assert feedback["originality"]["score"] == 5  # clamped to the rubric's 1-5
    assert all(f["quote"] in PASSAGE for f in feedback.values())


def test_selections_are_checked_before_any_engine_call() -> None:
    with pytest.raises(InvalidParam, match="within the document's"):
        VerbRequest("rewrite", TEXT, 5, 500)
    with pytest.raises(InvalidParam, match="needs some text selected"):
        VerbRequest("expand", TEXT, 3, 3)
    with pytest.raises(InvalidParam, match="verb"):
        VerbRequest("summon", TEXT)
    assert (VerbRequest("continue", TEXT).start, VerbRequest("continue", TEXT).end) == (len(TEXT), len(TEXT))


def test_continue_offers_llama_cpps_own_alternatives_and_continues_from_one(settings: Settings) -> None:
    from fabula.backends import get_backend

    engine = get_backend("llamacpp", "", settings)
    text = "Mara climbed the stairs of the lighthouse and"
    result = run_verb(engine, VerbRequest("continue", text, n=2), SamplingParams(max_tokens=24), seed=1)
    first = result.candidates[0]
    alternatives = first["alternatives"]
    assert "".join(t["token"] for t in alternatives) == first["text"][: len("".join(t["token"] for t in alternatives))]
    assert len(alternatives) >= 3 and all(len(t["top"]) == 5 for t in alternatives)
    picked = alternatives[1]["top"][-1]["token"]  # the fifth likeliest at the second token
    lead = alternatives[0]["token"] + picked
    again = run_verb(engine, VerbRequest("continue", text, n=1, lead=lead), SamplingParams(max_tokens=16), seed=1)
    continued = again.candidates[0]
    assert continued["text"].startswith(lead)
    spelled = "".join(t["token"] for t in continued["alternatives"])
    assert continued["alternatives"][0] == {"token": lead, "logprob": None, "top": []}
    assert continued["text"].startswith(spelled)  # the pieces a studio shows spell the text, in order


def test_the_prompts_own_labels_written_back_are_removed() -> None:
    engine = _engine("Text before the passage:\nPassage: She left the March bottle shut.")
    result = run_verb(engine, VerbRequest("rewrite", TEXT, START, END, n=1), PARAMS, seed=0)
    assert result.candidates[0]["text"] == "She left the March bottle shut."


def test_a_remark_to_the_writer_and_a_section_begun_after_the_answer_are_removed() -> None:
    engine = _engine(
        "I'll keep this one brief and to the point. She left the March bottle shut by the kettle.\n\n"
        "Passage: A moment later, the bottle creaked."
    )
    result = run_verb(engine, VerbRequest("rewrite", TEXT, START, END, n=1), PARAMS, seed=0)
    assert result.candidates[0]["text"] == "She left the March bottle shut by the kettle."


def test_continue_writes_the_rest_of_a_poem_inside_its_form(settings: Settings) -> None:
    from fabula.cowrite.manuscript import Document
    from fabula.service.drafts import VerbCall, run_call
    from fabula.verse.check import check_poem
    from fabula.verse.forms import verse_form

    doc = Document.new("d1", "haiku", "Snow falls on the sea\n", kind="poem", form="haiku")
    outcome = run_call(doc, [], VerbCall("continue", n=2, seed=2, engine="llamacpp", model=""), PARAMS, settings)
    assert outcome.node is not None and doc.text.startswith("Snow falls on the sea\n")
    for candidate in outcome.result.candidates:
        poem = "Snow falls on the sea\n" + candidate["text"]
        assert check_poem(poem, verse_form("haiku"))["ok"], poem
    broken = Document.new("d2", "not a haiku", "Snow falls on the quiet sea tonight\n", kind="poem", form="haiku")
    with pytest.raises(InvalidParam, match="already breaks its form"):
        run_call(broken, [], VerbCall("continue", n=1, seed=2, engine="llamacpp", model=""), PARAMS, settings)
    with pytest.raises(InvalidParam, match="only a poem has a verse form"):
        Document.new("d3", "x", "text", kind="chapter", form="haiku")
