"""Provenance manifests: built from a saved work, written beside every export, signed and verified."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from fabula.backends import close_all
from fabula.cli.main import cli
from fabula.errors import InvalidParam
from fabula.responsible.provenance import build_manifest, keygen, sha256, sign, verify


def run(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def work_id() -> str:
    close_all()
    result = run("write", "story", "a lantern", "--engine", "fake", "--json", "--seed", "5")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    return str(json.loads(result.stdout)["id"])  # type: ignore[attr-defined]


def test_manifest_names_what_made_the_work(work_id: str) -> None:
    from fabula.settings import get_settings
    from fabula.store.works import WorkStore

    work = WorkStore(get_settings().db_url).get(work_id)
    manifest = build_manifest(work)
    assert manifest["content"]["sha256"] == sha256(work["text"])
    assert manifest["engine"] == "fake" and manifest["seed"] == 5
    assert manifest["prompt_chain"][0]["user_prompt"] == "a lantern"
    assert manifest["post_processing"]["passed"] is True
    assert manifest["originality"]["score"] == 1.0  # no corpus installed: nothing found
    assert {m["name"] for m in manifest["originality"]["missing_sources"]} >= {"austen", "tang"}


def test_signed_manifest_verifies_and_any_change_breaks_it(work_id: str, fabula_home: Path) -> None:
    from fabula.settings import get_settings
    from fabula.store.works import WorkStore

    key = fabula_home / "signing.key"
    fingerprint = keygen(key)
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    work = WorkStore(get_settings().db_url).get(work_id)
    signed = sign(build_manifest(work), key)
    ok = verify(signed, work["text"].encode(), trusted=fingerprint)
    assert ok["valid"] and ok["key_id"] == fingerprint and ok["content_matches"]

    tampered = json.loads(json.dumps(signed))
    tampered["seed"] = 6
    assert verify(tampered)["signature_valid"] is False
    assert not verify(signed, b"another text")["valid"]
    other = fabula_home / "other.key"
    keygen(other)
    assert "not by the trusted key" in verify(signed, trusted=keygen(other, force=True))["problems"][0]
    assert verify(build_manifest(work))["problems"] == ["the manifest is not signed"]
    with pytest.raises(InvalidParam, match="already there"):
        keygen(key)


def test_every_export_gets_a_sidecar_that_the_cli_verifies(work_id: str, tmp_path: Path) -> None:
    assert run("provenance", "keygen").exit_code == 0  # type: ignore[attr-defined]
    out = tmp_path / "story.md"
    assert run("works", "export", work_id, "-o", str(out)).exit_code == 0  # type: ignore[attr-defined]
    sidecar = tmp_path / "story.md.provenance.json"
    manifest = json.loads(sidecar.read_text())
    assert manifest["export"]["sha256"] == sha256(out.read_bytes()) and "signature" in manifest
    checked = run("provenance", "verify", str(sidecar), "--json")
    assert checked.exit_code == 0 and json.loads(checked.stdout)["valid"] is True  # type: ignore[attr-defined]

    out.write_text(out.read_text() + "\nan added line\n")
    changed = run("provenance", "verify", str(sidecar))
    assert changed.exit_code == 3 and "matches neither" in changed.stdout  # type: ignore[attr-defined]
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    refused = run("provenance", "verify", str(bad))
    assert refused.exit_code == 2 and "MANIFEST_FILE" in refused.stderr  # type: ignore[attr-defined]


def test_write_leaves_a_manifest_beside_its_markdown(work_id: str, fabula_home: Path) -> None:
    sidecar = fabula_home / "works" / f"{work_id}.md.provenance.json"
    manifest = json.loads(sidecar.read_text())
    assert manifest["work"]["id"] == work_id and "signature" not in manifest  # no key yet: unsigned
    result = run("provenance", "verify", str(sidecar))
    assert result.exit_code == 3 and "not signed" in result.stdout  # type: ignore[attr-defined]
