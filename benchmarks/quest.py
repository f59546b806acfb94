"""Quests and NPC dialogue trees on the embedded model: share valid against their published schemas
(schemas/quest.schema.json, schemas/npc.schema.json) and sound as graphs, and time.

Each premise is written once through `fabula write quest` (llama.cpp, the schema compiled to a
grammar), then judged by the independent validator (jsonschema + the quest logic checks).

    python benchmarks/quest.py --json benchmarks/results/quest.json
    python benchmarks/quest.py --engine hf --no-npc --json benchmarks/results/quest_hf.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from fabula.backends import get_backend
from fabula.forms.npc import check_npc
from fabula.forms.quest import check_quest
from fabula.pipeline import write
from fabula.sampling import SamplingParams
from fabula.settings import get_settings

PREMISES = [
    "Smugglers stole the lighthouse lantern and the ships are running blind.",
    "A village well has started answering questions, always truthfully, always too late.",
    "The last dragon wants to retire and needs someone to take over its hoard.",
    "A space station's gardener finds a seed that is not in any catalogue.",
    "A detective ghost must solve her own murder before the house is sold.",
    "Two rival bakers need a neutral courier to carry a wedding cake across town.",
    "The king's map shows a river that was not there yesterday.",
    "A robot museum guard notices one exhibit moves at night.",
    "A cursed violin plays itself whenever someone lies nearby.",
    "Miners broke into a sealed city that is still lit.",
]


NPCS = [
    "A tired ferryman who knows where the smugglers hide.",
    "A baker who secretly forges royal seals.",
    "A retired knight guarding a bridge nobody uses.",
    "An android librarian who has read every banned book.",
    "A fortune teller whose predictions are always about weather.",
    "A lighthouse keeper's cat that can talk, but only to children.",
    "A mercenary who charges in riddles instead of gold.",
    "A ghost who haunts the tavern and wants better music.",
    "A mapmaker who refuses to draw the north.",
    "A blacksmith apprentice who fears fire.",
]


def npc_trees(seed: int, engine: str) -> list[dict]:
    backend = get_backend(engine, "", get_settings())
    rows = []
    for i, premise in enumerate(NPCS):
        start = time.perf_counter()
        work = write(backend, "npc", premise, {}, SamplingParams(seed=seed + i))
        seconds = time.perf_counter() - start
        report = check_npc(work.text)
        rows.append({"premise": premise, "valid": report["ok"], "violations": report["violations"],
                     "seconds": round(seconds, 2), "tree": json.loads(work.text) if report["ok"] else {}})  # fmt: skip
        print(f"npc {i + 1:2}/{len(NPCS)} valid={report['ok']} {seconds:.1f}s", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--engine", default="llamacpp", help="llamacpp (JSON-schema grammar) or hf (llguidance)")
    parser.add_argument("--no-npc", action="store_true", help="quests only")
    args = parser.parse_args()
    backend = get_backend(args.engine, "", get_settings())
    write(backend, "quest", "warm-up", {"steps": "2"}, SamplingParams(seed=0))  # load before timing
    rows = []
    for i, premise in enumerate(PREMISES):
        start = time.perf_counter()
        work = write(backend, "quest", premise, {}, SamplingParams(seed=args.seed + i))
        seconds = time.perf_counter() - start
        report = check_quest(work.text)
        quest = json.loads(work.text) if report["ok"] else {}
        rows.append(
            {
                "premise": premise,
                "valid": report["ok"],
                "violations": report["violations"],
                "seconds": round(seconds, 2),
                "tokens": work.candidates[0].completion.completion_tokens,
                "choices": sum(len(s["choices"]) for s in quest.get("steps", [])),
                "npcs": len(quest.get("npcs", [])),
                "quest": quest,
            }
        )
        print(f"{i + 1:2}/{len(PREMISES)} valid={report['ok']} {seconds:.1f}s", flush=True)
    valid = sum(r["valid"] for r in rows)
    print(f"\nvalid and finishable: {valid}/{len(rows)}")
    print(f"median seconds per quest: {statistics.median(r['seconds'] for r in rows):.1f}")
    print(f"median tokens: {statistics.median(r['tokens'] for r in rows)}")
    print(f"choices per quest (median): {statistics.median(r['choices'] for r in rows)}")
    trees = [] if args.no_npc else npc_trees(args.seed, args.engine)
    if trees:
        print(f"NPC trees valid and sound: {sum(r['valid'] for r in trees)}/{len(trees)}, "
              f"median {statistics.median(r['seconds'] for r in trees):.1f} s")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"quests": rows, "npcs": trees}, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
