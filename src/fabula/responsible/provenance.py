"""Provenance manifests: what made a work, as a JSON sidecar a third party can verify.

In the spirit of C2PA content credentials, without its binary embedding: the manifest names the
model (and its file hash), engine, sampling parameters, seed, the prompt chain (every plan step for
long forms), the story-bible entries injected, post-processing verdicts, the originality, safety
and watermark results, and the SHA-256 of the content (and of the exported file). It is signed
with ed25519 over its canonical JSON (sorted keys, no spaces, UTF-8), when a signing key exists
(`fabula provenance keygen`); the public key travels in the signature block, and a verifier can
pin the key it trusts by its fingerprint.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from fabula import __version__
from fabula.errors import ConfigError, InvalidParam

MANIFEST_VERSION = 1
SIDECAR_SUFFIX = ".provenance.json"


def sha256(data: bytes | str) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _prompt_chain(prov: dict[str, Any]) -> list[dict[str, Any]]:
    plan = prov.get("plan")
    if plan:  # a long form: every step's prompt template, seed and bible entries
        return [
            {k: step.get(k) for k in ("step", "prompt", "seed", "attempts", "bible") if k in step}
            for step in plan.get("steps", [])
        ]
    prompt = prov.get("prompt", {})
    return [{k: prompt.get(k) for k in ("user_prompt", "inputs", "mode", "messages", "completion_prompt")}]


def _bible(chain: list[dict[str, Any]]) -> list[Any]:
    seen: list[Any] = []
    for step in chain:
        for entry in step.get("bible") or []:
            if entry not in seen:
                seen.append(entry)
    return seen


def _originality_summary(report: dict[str, Any] | None) -> dict[str, Any] | None:
    if not report:
        return None
    keys = ("flagged", "score", "longest_span_tokens", "novel_ngram_share", "sources", "missing_sources", "policy")
    out = {k: report.get(k) for k in keys}
    out["flagged_spans"] = [
        {k: s.get(k) for k in ("char_start", "char_end", "tokens", "source", "document")}
        for s in report.get("flagged_spans", [])
    ]
    return out


def build_manifest(work: dict[str, Any], export: Path | None = None) -> dict[str, Any]:
    """The manifest of a saved work (as `WorkStore.get` returns it), optionally for an export file."""
    prov = work.get("provenance") or {}
    chain = _prompt_chain(prov)
    post = prov.get("post", {})
    manifest: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION,
        "claim_generator": f"fabula {prov.get('fabula_version', __version__)}",
        "work": {"id": work["id"], "form": work["form"], "created_at": prov.get("created_at")},
        "content": {"sha256": sha256(work["text"]), "characters": len(work["text"])},
        "model": prov.get("model"),
        "engine": prov.get("engine"),
        "params": prov.get("params"),
        "seed": prov.get("seed"),
        "candidate_seeds": prov.get("candidate_seeds"),
        "template": prov.get("template"),
        "prompt_chain": chain,
        "story_bible": _bible(chain),
        "post_processing": {
            "chosen_index": post.get("chosen_index"),
            "why": post.get("why"),
            **(
                {"ranked_index": post["ranked_index"], "picked_by": post.get("picked_by")}
                if "ranked_index" in post
                else {}
            ),
            "passed": post.get("passed"),
            "verdicts": post.get("verdicts"),
        },
        "originality": _originality_summary(prov.get("originality")),
        "safety": prov.get("safety"),
        "watermark": prov.get("watermark"),
    }
    if export is not None:
        manifest["export"] = {"file": export.name, "sha256": sha256(export.read_bytes())}
    return manifest


# --- signing -------------------------------------------------------------------------------


def key_fingerprint(public_raw: bytes) -> str:
    return "ed25519:" + hashlib.sha256(public_raw).hexdigest()[:16]


def keygen(path: Path, force: bool = False) -> str:
    """Create an ed25519 signing key (PEM, mode 600); return its public fingerprint."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if path.exists() and not force:
        raise InvalidParam("key", str(path), "a signing key is already there", hint="use --force to replace it")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    os.replace(tmp, path)
    return public_key(path)[1]


def _load_private(path: Path) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path} is not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path} is not an ed25519 key; create one with `fabula provenance keygen`")
    return key


def public_key(path: Path) -> tuple[str, str]:
    """(base64 raw public key, fingerprint) of the signing key at `path`."""
    from cryptography.hazmat.primitives import serialization

    raw = _load_private(path).public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode(), key_fingerprint(raw)


def sign(manifest: dict[str, Any], key_path: Path) -> dict[str, Any]:
    body = {k: v for k, v in manifest.items() if k != "signature"}
    encoded, fingerprint = public_key(key_path)
    value = _load_private(key_path).sign(canonical(body))
    return body | {
        "signature": {
            "alg": "ed25519",
            "public_key": encoded,
            "key_id": fingerprint,
            "value": base64.b64encode(value).decode(),
        }
    }


def verify(manifest: dict[str, Any], content: bytes | None = None, trusted: str | None = None) -> dict[str, Any]:
    """Check the signature, the pinned key (a fingerprint) and the content hash where given."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    problems: list[str] = []
    result: dict[str, Any] = {"signed": "signature" in manifest, "signature_valid": None, "key_id": None}
    sig = manifest.get("signature")
    if isinstance(sig, dict):
        try:
            raw = base64.b64decode(sig["public_key"], validate=True)
            Ed25519PublicKey.from_public_bytes(raw).verify(
                base64.b64decode(sig["value"], validate=True),
                canonical({k: v for k, v in manifest.items() if k != "signature"}),
            )
            result["signature_valid"] = True
            result["key_id"] = key_fingerprint(raw)
        except (InvalidSignature, ValueError, KeyError, TypeError):
            result["signature_valid"] = False
            problems.append("the signature does not match the manifest (it was changed, or signed by another key)")
        if trusted and result["key_id"] != trusted:
            problems.append(f"signed by {result['key_id']}, not by the trusted key {trusted}")
    else:
        problems.append("the manifest is not signed")
    if content is not None:
        digest = sha256(content)
        targets = [manifest.get("content", {}).get("sha256"), (manifest.get("export") or {}).get("sha256")]
        result["content_matches"] = digest in targets
        if not result["content_matches"]:
            problems.append("the file's SHA-256 matches neither the work's content nor its export")
    result["problems"] = problems
    result["valid"] = not problems
    return result


def write_sidecar(export: Path, manifest: dict[str, Any]) -> Path:
    """`story.md` -> `story.md.provenance.json`, written atomically."""
    from fabula.files import write_atomic

    path = export.with_name(export.name + SIDECAR_SUFFIX)
    write_atomic(path, json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    return path
