"""The responsible-generation review every saved work passes through, and the export gate.

The surfaces (CLI, API) call `review_work` between generation and saving: it records the content
hash, the originality report and the safety verdict in the work's provenance, so they travel with
the work into the store, `fabula works show` and every provenance manifest. `gate` then applies
the project's settings: an originality block on saving or exporting, and the safety policy, whose
blocked works are never saved or shown as if they were the work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fabula.errors import Rejected
from fabula.responsible.originality import OriginalityPolicy, check_text
from fabula.responsible.provenance import build_manifest, sha256, sign, write_sidecar
from fabula.responsible.safety import SafetyPolicy
from fabula.settings import Settings
from fabula.types import Work

if TYPE_CHECKING:
    from fabula.store.works import IdempotencyKey


LOG = logging.getLogger(__name__)


def originality_policy(settings: Settings) -> OriginalityPolicy:
    return OriginalityPolicy(
        ngram=settings.originality_ngram,
        min_verbatim=settings.originality_min_verbatim,
        min_overlap_tokens=settings.originality_min_overlap,
    )


def review_work(
    work: Work,
    settings: Settings,
    on_build: Callable[[str], None] | None = None,
    safety: SafetyPolicy | None = None,
) -> Work:
    """The work with `content_sha256`, `safety` and `originality` added to its provenance.

    Raises `Blocked` (before anything is saved) when the safety policy blocks the text."""
    home = settings.ensure_home()
    prov = dict(work.provenance)
    policy = safety or SafetyPolicy.parse(settings.safety)
    prov["safety"] = {k: v for k, v in policy.enforce(work.text, "output").items() if k != "hits"}
    prov["content_sha256"] = sha256(work.text)
    prov["originality"] = check_text(work.text, home, originality_policy(settings), on_build)
    return replace(work, provenance=prov)


def originality_blocked(prov: dict[str, Any], settings: Settings) -> str | None:
    """Why the originality settings block this work, or None."""
    report = prov.get("originality")
    if not report:
        return None
    if report["flagged"]:
        span = report["flagged_spans"][0]
        return (
            f"{len(report['flagged_spans'])} flagged span(s); the first, {span['tokens']} tokens from "
            f"{span.get('source')} ({span.get('document')}): {'; '.join(span['why'])}"
        )
    if report["score"] < settings.originality_min_score:
        return f"originality score {report['score']} is under originality_min_score={settings.originality_min_score}"
    return None


def gate(prov: dict[str, Any], settings: Settings, action: str) -> None:
    """Raise Rejected when the project's settings forbid `action` (save or export) for this work."""
    block = settings.originality_block
    if block == "off" or (block == "export" and action == "save"):
        return
    why = originality_blocked(prov, settings)
    if why:
        raise Rejected(
            f"not {'saved' if action == 'save' else 'exported'}: originality_block={block} and {why}; "
            "see `fabula originality` for the spans"
        )


def review_and_save(
    work: Work,
    settings: Settings,
    store: Any,
    *,
    safety: SafetyPolicy | None = None,
    on_build: Callable[[str], None] | None = None,
    owner: str | None = None,
    idempotency_key: IdempotencyKey | None = None,
) -> Work:
    """What every surface does before a work is kept: review it, apply the save gate, save it in
    `store` (a WorkStore). Returns the reviewed work; raises Blocked or Rejected before saving."""
    work = review_work(work, settings, on_build, safety)
    gate(work.provenance, settings, "save")
    store.save(work, owner, idempotency_key)
    return work


def export_manifest(work: dict[str, Any], export: Path, settings: Settings) -> Path:
    """Write the provenance sidecar of an export, signed when a signing key exists."""
    manifest = build_manifest(work, export)
    key = settings.signing_key_path
    if key.is_file():
        manifest = sign(manifest, key)
    sidecar = write_sidecar(export, manifest)
    LOG.info("wrote the provenance of %s to %s (%s)", export.name, sidecar, "signed" if key.is_file() else "unsigned")
    return sidecar
