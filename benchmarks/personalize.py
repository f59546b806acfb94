"""Does `--user` make outputs sound like the user? Two users, the same requests, three conditions.

    python benchmarks/personalize.py --json benchmarks/results/personalize.json

User "austen" has eight edits drawn from Pride and Prejudice; user "melville" eight from
Moby-Dick (each a 90-word passage: their own words, as far as fabula knows). Every request is
written three times by the embedded model with the same seed: without a user, for austen and for
melville. Two judges, neither used in generation:
- embedding margin: cosine (MiniLM) of the output to the user's own history centroid minus to the
  other user's; reported for each voice against the same measure on the unpersonalized output;
- a style classifier (TF-IDF of character 2-4-grams, logistic regression) trained on 300 other
  passages of each author: the share of personalized outputs attributed to their own user.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
from pathlib import Path

from fabula.backends import get_backend
from fabula.data.austen import fetch_austen
from fabula.data.melville import fetch_mobydick
from fabula.embeddings import embed
from fabula.forms import get_form
from fabula.personalize.profiles import ProfileStore
from fabula.personalize.voice import voice_for
from fabula.pipeline import write
from fabula.sampling import SamplingParams
from fabula.settings import Settings
from fabula.store.works import WorkStore

REQUESTS = [
    ("story", "a letter that arrives ten years late"),
    ("story", "a storm keeps two strangers in the same inn"),
    ("story", "a captain who cannot sleep before a voyage"),
    ("story", "a ball where nobody dances"),
    ("story", "an old map found inside a book"),
    ("social", "our harbour cafe opens early on Sundays now"),
    ("social", "a new edition of a classic novel arrives at the bookshop"),
    ("social", "the first frost of the year in the village"),
    ("product", "a brass ship's lantern, 30 cm tall, oil burning, hand polished"),
    ("product", "a writing desk of walnut with three drawers and a leather top"),
]


def passages(text: str, count: int, words: int, rng: random.Random) -> list[str]:
    tokens = text.split()
    starts = rng.sample(range(0, len(tokens) - words), count)
    return [" ".join(tokens[s : s + words]) for s in starts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="fabula-bench-"))
    settings = Settings(home=home, database_url=f"sqlite:///{tempfile.mkdtemp()}/p.db")
    rng = random.Random(0)
    austen_dir = home / "data" / "austen"
    fetch_austen(austen_dir)
    austen = (austen_dir / "prideprejudice.txt").read_text(encoding="utf-8")
    fetch_mobydick(home / "data" / "mobydick")
    melville = (home / "data" / "mobydick" / "mobydick.txt").read_text(encoding="utf-8")
    own = {"austen": passages(austen, 8, 90, rng), "melville": passages(melville, 8, 90, rng)}
    train = {"austen": passages(austen, 300, 60, rng), "melville": passages(melville, 300, 60, rng)}

    profiles = ProfileStore(settings.db_url)
    works = WorkStore(settings.db_url)
    for user, texts in own.items():
        profiles.add_user(user)
        for i, text in enumerate(texts):
            profiles.record(user, "edit", f"{user}-{i}", text=text)

    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=2, sublinear_tf=True)
    features = vectorizer.fit_transform(train["austen"] + train["melville"])
    classifier = LogisticRegression(max_iter=2000).fit(features, [0] * 300 + [1] * 300)
    centroid = {u: embed(t, home / "cache" / "embeddings").mean(axis=0) for u, t in own.items()}

    backend = get_backend("llamacpp", "", settings)
    rows = []
    for n, (form_name, prompt) in enumerate(REQUESTS):
        form = get_form(form_name)
        outputs = {}
        for condition in ("none", "austen", "melville"):
            voice = None if condition == "none" else voice_for(profiles, works, condition, form, prompt, {}, home)
            params = SamplingParams(temperature=0.7, top_p=0.95, max_tokens=160, seed=100 + n)
            outputs[condition] = write(backend, form_name, prompt, {}, params, voice=voice).text
            print(f"  {n + 1}/{len(REQUESTS)} {condition}", file=sys.stderr)
        vectors = embed(list(outputs.values()), home / "cache" / "embeddings")
        margin = {
            c: float(v @ centroid["austen"] - v @ centroid["melville"]) for c, v in zip(outputs, vectors, strict=True)
        }
        p_melville = classifier.predict_proba(vectorizer.transform(list(outputs.values())))[:, 1]
        rows.append(
            {
                "form": form_name,
                "prompt": prompt,
                "texts": outputs,
                "margin_austen_minus_melville": {c: round(m, 4) for c, m in margin.items()},
                "p_melville": {c: round(float(p), 3) for c, p in zip(outputs, p_melville, strict=True)},
            }
        )

    def mean(key: str, condition: str) -> float:
        return round(statistics.fmean(r[key][condition] for r in rows), 4)

    summary = {
        "embedding margin toward austen (austen minus melville)": {
            c: mean("margin_austen_minus_melville", c) for c in ("none", "austen", "melville")
        },
        "austen voice: margin gain over unpersonalized": round(
            statistics.fmean(
                r["margin_austen_minus_melville"]["austen"] - r["margin_austen_minus_melville"]["none"] for r in rows
            ),
            4,
        ),
        "melville voice: margin gain over unpersonalized": round(
            statistics.fmean(
                r["margin_austen_minus_melville"]["none"] - r["margin_austen_minus_melville"]["melville"] for r in rows
            ),
            4,
        ),
        "pairs closer to own history than to the other's": sum(
            r["margin_austen_minus_melville"]["austen"] > r["margin_austen_minus_melville"]["melville"] for r in rows
        ),
        "style classifier: austen outputs attributed to austen": sum(r["p_melville"]["austen"] < 0.5 for r in rows),
        "style classifier: melville outputs attributed to melville": sum(
            r["p_melville"]["melville"] >= 0.5 for r in rows
        ),
        "style classifier: unpersonalized attributed to melville": sum(r["p_melville"]["none"] >= 0.5 for r in rows),
        "mean p(melville)": {c: mean("p_melville", c) for c in ("none", "austen", "melville")},
        "requests": len(rows),
    }
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "rows": rows}, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()
