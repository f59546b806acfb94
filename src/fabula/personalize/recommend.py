"""Recommend catalogue items to a user from their preferences and history: the hybrid, explained.

The same three signals as on MovieLens, over the store's catalogue (articles, movies, works):
content (the user's profile vector, built from the items they liked minus those they rejected,
plus their stated genres and tone, against each item's MiniLM embedding), item k-NN on what
users met together (weighted by how recent each of the user's items is), and popularity. Each
signal is standardised and summed with `WEIGHTS`; items the user already met are left out. Every
recommendation says which signal carried it and the liked item it is most like.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fabula.errors import InvalidParam
from fabula.personalize.profiles import ProfileStore
from fabula.personalize.recommenders import ItemKNN, recency_weights, standardise

WEIGHTS = {"content": 1.0, "item-knn": 1.0, "popularity": 0.2}


def item_text(item: dict[str, Any]) -> str:
    tags = ", ".join(item["tags"])
    return f"{item['title']}. {tags}. {item['text'][:400]}".strip()


def recommend(store: ProfileStore, user_id: str, home: Path, k: int = 10, kind: str | None = None) -> dict[str, Any]:
    from fabula.embeddings import embed

    if not 1 <= k <= 100:
        raise InvalidParam("k", k, "ask for 1 to 100 recommendations")
    user = store.user(user_id)
    catalogue = store.items(kind, visible_to=user_id)  # never another user's own works
    if not catalogue:
        raise InvalidParam("catalogue", kind or "all", "is empty: import items with `fabula catalog import`")
    index = {item["id"]: i for i, item in enumerate(catalogue)}
    everyone = [e for e in store.history() if e.item_id in index]
    user_ids = sorted({e.user_id for e in everyone} | {user_id})
    row = {u: r for r, u in enumerate(user_ids)}
    met = np.zeros((len(user_ids), len(catalogue)))
    weights = np.zeros(len(catalogue))
    histories: list[list[int]] = [[] for _ in user_ids]
    for event in everyone:
        i = index[event.item_id]
        if event.weight > 0:
            met[row[event.user_id], i] = 1.0
            histories[row[event.user_id]].append(i)
        if event.user_id == user_id:
            weights[i] += event.weight
    seen = {index[e.item_id] for e in everyone if e.user_id == user_id}

    vectors = embed([item_text(it) for it in catalogue], home / "cache" / "embeddings")
    prefs = user["preferences"]
    stated = " ".join(
        f"{k}: {', '.join(v) if isinstance(v, list) else v}." for k, v in prefs.items() if k != "language"
    )
    profile = weights @ vectors
    if stated:
        profile = profile + embed([stated], home / "cache" / "embeddings")[0]
    content = vectors @ profile if np.any(profile) else np.zeros(len(catalogue))
    knn = ItemKNN(recency_weights(histories, len(catalogue))).fit(met).scores([row[user_id]])[0]
    popularity = np.log1p(met.sum(axis=0))
    signals = {"content": content, "item-knn": knn, "popularity": popularity}
    standard = {name: standardise(values[None, :])[0] for name, values in signals.items()}
    total = sum(WEIGHTS[name] * standard[name] for name in WEIGHTS)
    total = np.where([i in seen for i in range(len(catalogue))], -np.inf, total)
    order = [int(i) for i in np.argsort(-total) if np.isfinite(total[i])][:k]
    liked = [i for i in range(len(catalogue)) if weights[i] > 0]
    out = []
    for i in order:
        parts = {name: round(float(WEIGHTS[name] * standard[name][i]), 3) for name in WEIGHTS}
        because = None
        if liked:
            nearest = max(liked, key=lambda j: float(vectors[j] @ vectors[i]))
            because = catalogue[nearest]["title"]
        out.append(
            {
                "item": catalogue[i]["id"],
                "title": catalogue[i]["title"],
                "kind": catalogue[i]["kind"],
                "score": round(float(total[i]), 3),
                "signals": parts,
                "led_by": max(parts, key=lambda name: parts[name]),
                "most_like": because,
            }
        )
    return {"user": user_id, "preferences": prefs, "history_events": len(seen), "recommendations": out}
