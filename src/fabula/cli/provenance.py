"""`fabula provenance keygen|show|verify`: signed manifests of how a work was made."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from fabula.settings import get_settings


@click.group()
def provenance() -> None:
    """Provenance manifests: the JSON sidecar written beside every export, optionally signed."""


@provenance.command("keygen")
@click.option("--force", is_flag=True, help="Replace an existing key (manifests it signed stay verifiable).")
def keygen(force: bool) -> None:
    """Create the ed25519 key that signs every manifest from now on (FABULA_SIGNING_KEY)."""
    from fabula.responsible.provenance import keygen as make_key

    path = get_settings().signing_key_path
    fingerprint = make_key(path, force=force)
    click.echo(f"signing key → {path}\npublic key id: {fingerprint} (give this to whoever verifies)")


@provenance.command("show")
@click.argument("work_id")
@click.option("--sign/--no-sign", default=True, show_default=True, help="Sign when a signing key exists.")
def show(work_id: str, sign: bool) -> None:
    """Print the manifest of a saved work."""
    from fabula.responsible.provenance import build_manifest
    from fabula.responsible.provenance import sign as sign_manifest
    from fabula.store.works import WorkStore

    settings = get_settings()
    manifest = build_manifest(WorkStore(settings.db_url).get(work_id))
    if sign and settings.signing_key_path.is_file():
        manifest = sign_manifest(manifest, settings.signing_key_path)
    click.echo(json.dumps(manifest, ensure_ascii=False, indent=2))


@provenance.command("verify")
@click.argument("manifest_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--file",
    "content_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The exported file (default: the manifest's name without .provenance.json, if present).",
)
@click.option("--key-id", default="", help="Accept only this signer (ed25519:...; see `fabula provenance keygen`).")
@click.option("--json", "as_json", is_flag=True)
def verify(manifest_file: Path, content_file: Path | None, key_id: str, as_json: bool) -> None:
    """Check a manifest's signature and that the file it describes is unchanged. Exit 3 if not."""
    from fabula.errors import InvalidParam, Rejected
    from fabula.responsible.provenance import SIDECAR_SUFFIX
    from fabula.responsible.provenance import verify as run_verify

    try:
        manifest: Any = json.loads(manifest_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidParam("MANIFEST_FILE", str(manifest_file), f"is not a JSON manifest ({exc})") from exc
    if not isinstance(manifest, dict) or "content" not in manifest:
        raise InvalidParam("MANIFEST_FILE", str(manifest_file), "is not a fabula provenance manifest")
    if content_file is None and manifest_file.name.endswith(SIDECAR_SUFFIX):
        guess = manifest_file.with_name(manifest_file.name[: -len(SIDECAR_SUFFIX)])
        content_file = guess if guess.is_file() else None
    content = content_file.read_bytes() if content_file else None
    result = run_verify(manifest, content, key_id or None) | {"file": str(content_file) if content_file else None}
    if as_json:
        click.echo(json.dumps(result))
    else:
        if result["valid"]:
            click.echo(f"valid: signed by {result['key_id']}" + (f"; {content_file} unchanged" if content_file else ""))
        for problem in result["problems"]:
            click.echo(f"problem: {problem}")
    if not result["valid"]:
        raise Rejected(f"{manifest_file} did not verify")
