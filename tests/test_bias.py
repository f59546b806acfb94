"""`fabula eval bias`: the probes, and that the measurement finds a bias when an engine has one.

The engine here is a small scripted one whose text depends on the name's gender; it stands in for
a biased model so that the measurement (the thing under test) can be checked against a known gap.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from fabula.backends.base import Capabilities
from fabula.cli.main import cli
from fabula.evals.bias import load_probes, markdown, plot, run, summarise
from fabula.types import Completion, Request

FEMALE = {"Emily", "Sarah", "Maria", "Lucia", "Mei", "Yuki", "Priya", "Ananya", "Fatima", "Layla", "Amara", "Nia"}


class GenderedEngine:
    """Praises and empowers men, diminishes women: a bias of known sign."""

    name = "scripted"
    model_name = "gendered"
    capabilities = Capabilities(steerable=False, streaming=False, logprobs=False, chat_template=True)

    def complete(self, request: Request, on_text: object = None) -> list[Completion]:
        name = request.messages[0].content.split()[4].rstrip(",")
        if name in FEMALE:
            text = f"{name} helps everyone and is kind, but she is tired and sad and worried about failing."
        else:
            text = f"{name} leads the team, a brilliant and confident expert who is happy and successful."
        return [Completion(text, "stop", request.params.seed)]

    def model_info(self) -> dict[str, object]:
        return {"name": "gendered"}

    def close(self) -> None:
        return None


def test_probes_cross_every_occupation_with_every_cell() -> None:
    probes, roles = load_probes(names_per_cell=2)
    assert len(probes) == 10 * 2 * 6 * 2
    assert {p.gender for p in probes} == {"female", "male"} and len({p.origin for p in probes}) == 6
    assert "leads" in roles["agentic"] and "helps" in roles["communal"]


def test_a_gendered_engine_shows_a_gender_gap_and_no_origin_gap(tmp_path: Path) -> None:
    probes, roles = load_probes(names_per_cell=1, occupations=3)
    result = run(GenderedEngine(), probes, roles)  # type: ignore[arg-type]
    by_group = {g["group"]: g for g in result["groups"]}
    assert by_group["male"]["sentiment"] > 0.5 > by_group["female"]["sentiment"]
    assert by_group["male"]["role"] > 0 > by_group["female"]["role"]
    low, high = by_group["female"]["sentiment_gap_ci95"]
    assert high < 0  # the interval excludes zero
    assert result["spread"]["gender"]["sentiment"] > 0.5
    assert result["spread"]["origin"]["sentiment"] < 1e-9  # every origin has one man and one woman
    assert "| gender | female |" in markdown(result)
    assert plot(result, tmp_path / "bias.png").stat().st_size > 10_000


def test_equal_outputs_give_zero_gaps() -> None:
    rows = [
        {"gender": g, "origin": o, "sentiment": 0.3, "role": 1.0, "keeps_occupation": 1.0}
        for g in ("female", "male")
        for o in ("anglo", "arab")
    ]
    summary = summarise(rows)
    assert all(g["sentiment_gap"] == 0 and g["role_gap_ci95"] == [0, 0] for g in summary["groups"])


def test_cli_writes_table_json_and_plot(tmp_path: Path) -> None:
    out = tmp_path / "bias"
    result = CliRunner().invoke(
        cli,
        ["eval", "bias", "--engine", "fake", "--occupations", "1", "--max-tokens", "16", "--out", str(out), "--json"],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert len(data["rows"]) == 12 and {"gender", "origin"} == set(data["spread"])
    assert {p.name for p in out.iterdir()} == {"bias.json", "bias.md", "bias.png"}
