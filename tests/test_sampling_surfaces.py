"""One declaration of the sampling controls: the CLI, the API and the published schema agree on
every field, its type and its bounds, and refuse the same values by the same name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from fabula.api.app import create_app
from fabula.cli.main import cli
from fabula.cli.options import cli_name
from fabula.sampling import BOUNDS, SamplingControls, SamplingParams
from fabula.settings import Settings
from tests.conftest import LOCAL


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    app = create_app(Settings(engine="fake"))
    return app.openapi()


@pytest.fixture
def client(fabula_home: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(home=fabula_home, engine="fake")), base_url=LOCAL) as test_client:
        yield test_client


def just_outside(name: str) -> Any:
    rule = BOUNDS[name]
    step = 1 if rule.kind is int else (0 if rule.high_open else 0.001)
    return rule.high + step if rule.kind is int or not rule.high_open else rule.high


def test_the_dataclass_defaults_are_the_declared_ones() -> None:
    declared = SamplingControls().model_dump()
    assert SamplingParams().to_dict() == {k: list(v) if isinstance(v, tuple) else v for k, v in declared.items()}


def test_every_control_is_a_cli_option_of_the_declared_type() -> None:
    from fabula.cli.write import write

    options = {o.name: o for o in write.params}
    for name in SamplingControls.model_fields:
        option = options[name]
        assert cli_name(name) in option.opts, name
        if name in BOUNDS:
            assert option.type.name == ("integer" if BOUNDS[name].kind is int else "float"), name


@pytest.mark.parametrize("name", list(BOUNDS))
def test_cli_api_and_schema_agree_on_each_bound(
    name: str, spec: dict[str, Any], client: TestClient, fabula_home: Path
) -> None:
    rule = BOUNDS[name]
    chat = spec["paths"]["/v1/chat/completions"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    published = chat["properties"][name]
    assert published.get("exclusiveMaximum" if rule.high_open else "maximum") == rule.high, (name, published)
    assert published.get("exclusiveMinimum" if rule.low_open else "minimum") == rule.low, (name, published)
    typed = spec["components"]["schemas"]["SamplingControls"]["properties"][name]
    typed = next((t for t in typed.get("anyOf", []) if t.get("type") != "null"), typed)  # `int | None`
    assert typed.get("exclusiveMaximum" if rule.high_open else "maximum") == rule.high, (name, typed)
    bad = just_outside(name)
    # the API refuses it, naming the field, on /v1 and /api/works alike
    reply = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}], name: bad})
    assert reply.status_code == 400 and reply.json()["error"]["param"] == name, (name, bad, reply.text)
    reply = client.post("/api/works", json={"form": "story", "sampling": {name: bad}})
    assert reply.status_code == 400 and reply.json()["error"]["param"] == f"sampling.{name}", (name, reply.text)
    # the CLI refuses it too, by the same name, before any engine is loaded
    result = CliRunner().invoke(cli, ["write", "story", "x", "--engine", "fake", cli_name(name), str(bad)])
    assert result.exit_code == 2 and f"{name}=" in result.output, (name, result.output)


def test_a_temperature_of_5_is_what_the_schema_says(spec: dict[str, Any], client: TestClient) -> None:
    chat = spec["paths"]["/v1/chat/completions"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert chat["properties"]["temperature"]["maximum"] == 10.0
    reply = client.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}], "temperature": 5}
    )
    assert reply.status_code == 200
    reply = client.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}], "temperature": 11}
    )
    assert reply.status_code == 400 and reply.json()["error"]["param"] == "temperature"
