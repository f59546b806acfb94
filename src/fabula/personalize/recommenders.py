"""Recommenders over a users x items interaction matrix: popularity, content, BPR and a hybrid.

Every recommender has `fit(train)` and `scores(users) -> [len(users), items]`; higher is better.
`train` is a dense float matrix (a rating or a weight where the user met the item, 0 elsewhere):
fabula's catalogues and MovieLens-100k (943 x 1,682) are small enough that dense is simplest.

- Popularity: how many users met each item.
- Content: a user's profile is the rating-weighted mean of the MiniLM embeddings of the items
  they met (the item's text: title, year, genres, or an article's words); items score by cosine.
- BPR (Rendle et al. 2009): matrix factorisation trained to rank a met item above an unmet one,
  in torch with Adam; the standard collaborative baseline (RecBole's BPR).
- Item k-NN (Sarwar et al. 2001), recency-weighted: items score by their cosine co-occurrence
  with the user's last ten items, the latest counting most (0.8 per step back). What someone
  meets next is most like what they met last, which a static factorisation cannot see.
- Hybrid: a weighted sum of the components' per-user standardised scores, the weights chosen on
  the validation split. Standardising per user puts a cosine and a BPR logit on one scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from fabula.errors import ConfigError


class Popularity:
    name = "popularity"

    def fit(self, train: np.ndarray) -> Popularity:
        self.counts = (train > 0).sum(axis=0).astype(np.float64)
        return self

    def scores(self, users: Sequence[int]) -> np.ndarray:
        return np.tile(np.log1p(self.counts), (len(users), 1))


class ContentBased:
    name = "content"

    def __init__(self, item_vectors: np.ndarray) -> None:
        self.items = item_vectors / np.maximum(np.linalg.norm(item_vectors, axis=1, keepdims=True), 1e-9)

    def fit(self, train: np.ndarray) -> ContentBased:
        # weight what the user liked more: a 5 counts five times a 1 (implicit feedback counts 1)
        profiles = train @ self.items
        self.profiles = profiles / np.maximum(np.linalg.norm(profiles, axis=1, keepdims=True), 1e-9)
        return self

    def scores(self, users: Sequence[int]) -> np.ndarray:
        return np.asarray(self.profiles[list(users)] @ self.items.T)


@dataclass
class BPR:
    """Matrix factorisation with the BPR pairwise loss; one uniformly sampled negative per positive."""

    factors: int = 128
    epochs: int = 40
    learning_rate: float = 5e-3
    weight_decay: float = 0.0
    batch_size: int = 1024
    seed: int = 0
    losses: list[float] = field(default_factory=list)
    name: str = "collaborative"

    def fit(self, train: np.ndarray) -> BPR:
        try:
            import torch
        except ImportError as exc:
            raise ConfigError("BPR trains with torch: pip install 'fabula[train]'") from exc
        generator = torch.Generator().manual_seed(self.seed)
        n_users, n_items = train.shape
        users, items = np.nonzero(train > 0)
        pos_u = torch.as_tensor(users, dtype=torch.long)
        pos_i = torch.as_tensor(items, dtype=torch.long)
        self.user_f = torch.nn.Parameter(torch.randn(n_users, self.factors, generator=generator) * 0.05)
        self.item_f = torch.nn.Parameter(torch.randn(n_items, self.factors, generator=generator) * 0.05)
        self.item_b = torch.nn.Parameter(torch.zeros(n_items))
        params = [self.user_f, self.item_f, self.item_b]
        optimizer = torch.optim.Adam(params, lr=self.learning_rate, weight_decay=self.weight_decay)
        for _ in range(self.epochs):
            order = torch.randperm(len(pos_u), generator=generator)
            total = 0.0
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                u, i = pos_u[batch], pos_i[batch]
                j = torch.randint(0, n_items, (len(batch),), generator=generator)
                pu = self.user_f[u]  # [B, F]
                diff = (pu * (self.item_f[i] - self.item_f[j])).sum(-1) + self.item_b[i] - self.item_b[j]  # [B]
                loss = -torch.nn.functional.logsigmoid(diff).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(batch)
            self.losses.append(total / len(order))
        with torch.no_grad():
            self._users = self.user_f.detach().numpy().copy()
            self._items = self.item_f.detach().numpy().copy()
            self._bias = self.item_b.detach().numpy().copy()
        return self

    def scores(self, users: Sequence[int]) -> np.ndarray:
        return np.asarray(self._users[list(users)] @ self._items.T + self._bias)


class ItemKNN:
    name = "item-knn"

    def __init__(self, recent: np.ndarray) -> None:
        self.recent = recent  # [users, items]: 1 for the latest item, 0.8 the one before, ...

    def fit(self, train: np.ndarray) -> ItemKNN:
        met = (train > 0).astype(np.float64)
        norm = np.sqrt(met.sum(axis=0)) + 1e-9
        self.similar = (met.T @ met) / norm[:, None] / norm[None, :]  # [items, items] cosine
        np.fill_diagonal(self.similar, 0.0)
        return self

    def scores(self, users: Sequence[int]) -> np.ndarray:
        return np.asarray(self.recent[list(users)] @ self.similar)


def recency_weights(histories: Sequence[Sequence[int]], items: int, last: int = 10, decay: float = 0.8) -> np.ndarray:
    """Per user, their last `last` items (in time order), weighted decay**steps back."""
    out = np.zeros((len(histories), items))
    for user, history in enumerate(histories):
        for step, item in enumerate(reversed(history[-last:])):
            out[user, item] = max(out[user, item], decay**step)
    return out


def standardise(scores: np.ndarray) -> np.ndarray:
    """Per row: zero mean, unit deviation (a constant row stays zero)."""
    centred = scores - scores.mean(axis=1, keepdims=True)
    return centred / np.maximum(centred.std(axis=1, keepdims=True), 1e-9)


class Hybrid:
    name = "hybrid"

    def __init__(self, parts: dict[str, object], weights: dict[str, float]) -> None:
        self.parts = parts
        self.weights = weights

    def scores(self, users: Sequence[int]) -> np.ndarray:
        total = np.zeros(0)
        for name, weight in self.weights.items():
            if weight:
                part = weight * standardise(self.parts[name].scores(users))  # type: ignore[attr-defined]
                total = part if total.size == 0 else total + part
        return total
