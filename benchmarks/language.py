"""Language identity on real text: what the check flags among the embedded model's stored outputs,
and what it flags among the paragraphs of published English novels (false alarms).

    python benchmarks/language.py --json benchmarks/results/language.json

The stored outputs are every English text `results/*.json` holds (verse, songs, quests, NPC trees,
stories, the watermark runs); each flagged passage is listed so a person can read it. The novels
are Austen's six and Moby-Dick, from Debian packages, one paragraph at a time.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import novels
from leaks import stored_texts

from fabula.post.language import HAN, check_language, passages, probabilities


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    english = [(source, text) for source, text in stored_texts() if len(HAN.findall(text)) < 3]
    started = time.perf_counter()
    flagged = []
    for source, text in english:
        ok, detail = check_language(text, "en")
        if not ok:
            flagged.append({"source": source, "detail": detail})
    seconds = time.perf_counter() - started
    by_source = Counter(f["source"] for f in flagged)
    paragraphs = [p for book in novels.paragraphs().values() for p in book]
    false_alarms = [p[:120] for p in paragraphs if not check_language(p, "en")[0]]
    timed = [p for _, text in english[:200] for p in passages(text)][:300]
    tick = time.perf_counter()
    for p in timed:
        probabilities(p)
    ms = 1000 * (time.perf_counter() - tick) / max(1, len(timed))
    result = {
        "stored_outputs": len(english),
        "flagged": len(flagged),
        "flagged_by_source": dict(by_source),
        "flagged_items": flagged,
        "novel_paragraphs": len(paragraphs),
        "novel_false_alarms": len(false_alarms),
        "novel_false_alarm_items": false_alarms,
        "ms_per_passage_identified": round(ms, 3),
        "seconds_for_all_stored_outputs": round(seconds, 2),
    }
    print(f"stored outputs: {len(flagged)} of {len(english)} flagged {dict(by_source)}")
    for f in flagged:
        print(f"  {f['source']}: {f['detail']}")
    print(f"novels: {len(false_alarms)} of {len(paragraphs)} paragraphs flagged")
    for p in false_alarms:
        print(f"  {p!r}")
    print(f"{ms:.2f} ms per passage identified")
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()
