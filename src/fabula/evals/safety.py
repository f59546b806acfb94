"""How well the safety policy does on a labelled fixture: precision and recall per category.

Each item is {text, label, kind}: label is a category or "safe"; kind tells benign dark fiction
(villains, war, crime: it must never be blocked), everyday and tricky benign text (a crisis line,
history, idioms like "killing it"), unsafe text, and gore (detected, but allowed by default).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fabula.responsible.safety import SafetyPolicy, load_rules


def read_fixture(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 3) if den else None


def evaluate(rows: Iterable[dict[str, str]], policy: SafetyPolicy | None = None) -> dict[str, Any]:
    """Per category: precision and recall of "flagged at medium or above" (the classifier) and of
    "blocked" under the policy; overall block precision/recall on unsafe-vs-safe; false blocks by kind."""
    policy = policy or SafetyPolicy()
    medium = load_rules().levels["medium"]
    items = list(rows)
    verdicts = [policy.check(row["text"]) for row in items]
    per_category = {}
    for category in load_rules().categories:
        truth = [row["label"] == category for row in items]
        flagged = [v["scores"].get(category, 0.0) >= medium for v in verdicts]
        per_category[category] = {
            "items": sum(truth),
            "precision": _ratio(sum(t and f for t, f in zip(truth, flagged, strict=True)), sum(flagged)),
            "recall": _ratio(sum(t and f for t, f in zip(truth, flagged, strict=True)), sum(truth)),
            "blocked_by_default": policy.level(category) != "off",
        }
    unsafe = [row["kind"] == "unsafe" for row in items]
    blocked_any = [v["blocked"] for v in verdicts]
    hits = sum(u and b for u, b in zip(unsafe, blocked_any, strict=True))
    by_kind: dict[str, dict[str, int]] = {}
    for row, verdict in zip(items, verdicts, strict=True):
        entry = by_kind.setdefault(row["kind"], {"items": 0, "blocked": 0})
        entry["items"] += 1
        entry["blocked"] += int(verdict["blocked"])
    mistakes = [
        {"text": row["text"], "label": row["label"], "blocked": v["categories"], "scores": v["scores"]}
        for row, v, u, b in zip(items, verdicts, unsafe, blocked_any, strict=True)
        if u != b
    ]
    return {
        "items": len(items),
        "block": {"precision": _ratio(hits, sum(blocked_any)), "recall": _ratio(hits, sum(unsafe))},
        "by_kind": by_kind,
        "categories": per_category,
        "mistakes": mistakes,
    }
