"""The quest form: a published JSON Schema, quest logic checks, and schema-constrained decoding."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from fabula.backends.openai_compat import request_body
from fabula.cli.main import cli
from fabula.forms.quest import check_quest, decoding_schema, quest_schema
from fabula.sampling import SamplingParams
from fabula.types import Request

ROOT = Path(__file__).resolve().parent.parent


def _quest(steps: list[tuple[str, list[str]]]) -> dict[str, object]:
    return {
        "title": "The Stolen Lantern",
        "giver": {"name": "Mara", "role": "lighthouse keeper"},
        "summary": "Smugglers took the lantern; the ships are running blind.",
        "objectives": ["Find the smugglers' cove"],
        "steps": [
            {"id": sid, "description": f"Do {sid}.", "choices": [{"text": "go", "next": n} for n in nexts]}
            for sid, nexts in steps
        ],
        "rewards": [{"type": "gold", "amount": 50}],
        "npcs": [{"name": "Jory", "role": "smuggler", "attitude": "hostile"}],
    }


def test_published_schema_is_the_packaged_one_and_valid() -> None:
    published = json.loads((ROOT / "schemas" / "quest.schema.json").read_text(encoding="utf-8"))
    assert published == quest_schema()
    jsonschema.Draft202012Validator.check_schema(published)


def test_a_good_quest_passes() -> None:
    report = check_quest(json.dumps(_quest([("step1", ["step2", "end"]), ("step2", ["end"])])))
    assert report["ok"], report["violations"]
    assert report["finishable"] and report["reachable"] == ["step1", "step2"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"title": ', "not JSON"),
        (json.dumps({**_quest([("step1", ["end"])]), "giver": None}), "giver: None is not of type 'object'"),
        (json.dumps(_quest([("step1", ["step3"]), ("step2", ["end"])])), "leads to 'step3', which does not exist"),
        (json.dumps(_quest([("step1", ["end"]), ("step2", ["end"])])), "['step2'] cannot be reached"),
        (json.dumps(_quest([("step1", ["step2"]), ("step2", ["step1"])])), "it cannot be finished"),
        (json.dumps(_quest([("step1", ["step1", "end"]), ("step1", ["end"])])), "ids repeat"),
    ],
)  # fmt: skip
def test_bad_quests_are_named(text: str, message: str) -> None:
    report = check_quest(text)
    assert not report["ok"]
    assert any(message in v for v in report["violations"]), report["violations"]


@pytest.mark.parametrize("steps", [2, 4, 6])
def test_decoding_schema_is_a_narrowing_of_the_published_one(steps: int) -> None:
    """Whatever the decoding schema admits, the published schema and the logic checks accept; and it
    refuses what would break the logic (a first choice that does not lead on)."""
    schema = decoding_schema(steps)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    chain = [(f"step{i}", [f"step{i + 1}" if i < steps else "end"]) for i in range(1, steps + 1)]
    branching = [(sid, nexts + ["end"]) for sid, nexts in chain]
    for quest in (_quest(chain), _quest(branching)):
        assert not list(validator.iter_errors(quest))
        assert check_quest(json.dumps(quest))["ok"]
    broken = copy.deepcopy(_quest(chain))
    broken["steps"][0]["choices"][0]["next"] = "end"  # type: ignore[index]
    assert list(validator.iter_errors(broken))
    assert list(validator.iter_errors(_quest(chain[:-1])))  # one step short


def test_openai_dialects_carry_the_schema() -> None:
    plain = SamplingParams(top_k=0, min_p=0.0, repetition_penalty=1.0)  # the official API has only the basics
    request = Request((), "x", plain, json_schema={"type": "object"})
    assert request_body(request, "m", None, "llamacpp")["json_schema"] == {"type": "object"}
    assert request_body(request, "m", None, "vllm")["guided_json"] == {"type": "object"}
    assert request_body(request, "m", None, "openai")["response_format"]["json_schema"]["schema"] == {"type": "object"}


def test_a_random_model_on_hf_writes_schema_valid_json_by_construction(tmp_path: Path) -> None:
    """The hf engine masks every token that would leave the schema: even random weights give valid JSON."""
    import jsonschema

    from fabula.backends.hf import HFBackend
    from fabula.settings import Settings
    from fabula.types import Message
    from tests.tiny_models import build_tiny_llama

    folder = build_tiny_llama(tmp_path / "tiny")
    backend = HFBackend(model=str(folder), settings=Settings(home=tmp_path / "home", threads=2))
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "mood", "steps"],
        "properties": {
            "name": {"type": "string", "pattern": "^[A-Z][a-z]{2,8}$"},
            "mood": {"enum": ["calm", "eerie"]},
            "steps": {"type": "array", "items": {"enum": ["step1", "end"]}, "minItems": 1, "maxItems": 3},
        },
    }
    request = Request(
        (Message("user", "a quest"),), "a quest", SamplingParams(seed=4, n=3, max_tokens=120), json_schema=schema
    )
    for completion in backend.complete(request):
        assert completion.finish_reason == "stop", completion.text
        jsonschema.validate(json.loads(completion.text), schema)


def test_quest_on_the_default_model_is_valid_by_construction() -> None:
    result = CliRunner().invoke(
        cli, ["write", "quest", "Smugglers stole the lighthouse lantern.", "--seed", "3", "--json", "--no-stream"]
    )
    assert result.exit_code == 0, result.output
    work = json.loads(result.stdout)
    assert work["provenance"]["json_schema"].endswith("quest.decoding-4.schema.json")
    quest = json.loads(work["text"])  # the quest JSON, as a string, in "text"
    assert [s["id"] for s in quest["steps"]] == ["step1", "step2", "step3", "step4"]
    report = check_quest(work["text"])
    assert report["ok"], report["violations"]
