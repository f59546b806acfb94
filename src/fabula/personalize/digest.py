"""A personal news digest: pick articles by the user's interests, then summarise each one.

The picking is the recommender over the catalogue's articles (content from the user's history and
stated preferences, item k-NN, popularity), so the digest changes as they read, like and reject.
Each summary is written by the `summary` form, in the user's preferred tone, and checked against
its article; the digest is one work whose provenance lists each article, why it was chosen, and
each summary's seed and verdicts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fabula.backends.base import Backend
from fabula.errors import InvalidParam
from fabula.personalize.profiles import ProfileStore
from fabula.personalize.recommend import recommend
from fabula.pipeline import write
from fabula.records import single_candidate_work
from fabula.sampling import SamplingParams
from fabula.types import Work


def digest(
    backend: Backend,
    profiles: ProfileStore,
    user_id: str,
    home: Path,
    k: int = 3,
    params: SamplingParams | None = None,
) -> Work:
    if not 1 <= k <= 10:
        raise InvalidParam("k", k, "a digest has 1 to 10 articles")
    params = params or SamplingParams(max_tokens=160, temperature=0.5)
    prefs = profiles.user(user_id)["preferences"]
    picks = recommend(profiles, user_id, home, k=k, kind="article")["recommendations"]
    if not picks:
        raise InvalidParam("catalogue", "article", "has no unread articles; `fabula catalog import reuters`")
    texts = {item["id"]: item for item in profiles.items("article")}
    sections: list[str] = []
    record: list[dict[str, Any]] = []
    verdicts: list[dict[str, Any]] = []
    for n, pick in enumerate(picks):
        article = texts[pick["item"]]
        seed = None if params.seed is None else params.seed + n
        work = write(
            backend,
            "summary",
            f"{article['title']}. {article['text']}",
            {"tone": prefs.get("tone", "plain")},
            params.with_(seed=seed),
        )
        failed = work.chosen.failures()
        # a summary that failed its checks says so where it is read, not only in the provenance
        warning = "".join(f"\n> Check failed: {why}\n" for why in failed)
        sections.append(f"## {article['title']}\n\n{work.text.strip()}\n{warning}")
        verdicts += work.chosen.verdicts
        record.append(
            {
                "article": article["id"],
                "why": {k: pick[k] for k in ("score", "led_by", "most_like", "signals")},
                "seed": work.provenance["seed"],
                "passed": work.passed,
                **({"failed": failed} if failed else {}),
                **({"resampled": work.provenance["resampled"]} if "resampled" in work.provenance else {}),
            }
        )
    text = f"# Digest for {user_id}\n\n" + "\n".join(sections)
    return single_candidate_work(
        "digest",
        text,
        verdicts,
        engine=backend.name,
        model=dict(backend.model_info()),
        params=params.to_dict(),
        seed=params.seed,
        user_prompt=f"digest for {user_id}",
        inputs={"k": str(k), "user": user_id},
        template="digest@1",
        why="one digest",
        scores={"articles": len(picks)},
        passed=all(r["passed"] for r in record),
        extra={"digest": record},
    )
