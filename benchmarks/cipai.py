"""The ci tune table (词牌) read off the Song ci corpus, and how many of the corpus's own poems it accepts.

Builds the table from FABULA_HOME/data/poetry/ci.jsonl (fetched from npm's chinese-poetry when
missing), compares it with the shipped `src/fabula/verse/cipai.json` (or, with --write, replaces
it) and reports per tune: poems, the share whose clause lengths are one of the tune's shapes, and
the share the whole check accepts (shape, 平仄 at the fixed positions, rhymes). A second column
judges the fixed positions by the most common reading only, as constrained decoding does.

    python benchmarks/cipai.py [--write] [--json benchmarks/results/cipai.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fabula.data.poetry import fetch_poetry
from fabula.settings import get_settings
from fabula.verse.cipai import acceptance, build_table, to_json

SHIPPED = Path(__file__).resolve().parent.parent / "src" / "fabula" / "verse" / "cipai.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="replace the shipped table with the one built here")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    folder = get_settings().ensure_home() / "data" / "poetry"
    manifest = fetch_poetry(folder)
    records = [json.loads(line) for line in (folder / "ci.jsonl").read_text(encoding="utf-8").splitlines()]
    table = build_table(records)
    built = {
        "source": f"{manifest['source']} Song ci ({len(records)} poems), read by fabula.verse.cipai.build_table",
        "tunes": {name: to_json(tune) for name, tune in table.items()},
    }
    text = json.dumps(built, ensure_ascii=False, indent=1) + "\n"
    if args.write:
        SHIPPED.write_text(text, encoding="utf-8")
    elif SHIPPED.read_text(encoding="utf-8") != text:
        raise SystemExit("the shipped table differs from the one built from the corpus: rerun with --write")
    rates = acceptance(records, table)
    print("| tune | poems | shapes | clause lengths (main shape) | rhymes | shape share | accepted |")
    print("|---|---:|---:|---|---|---:|---:|")
    for name, tune in table.items():
        main = tune.shapes[0]
        rhymes = "".join(c.rhyme or "-" for c in main.clauses)
        r = rates[name]
        print(
            f"| {name} | {r['poems']} | {len(tune.shapes)} | {','.join(map(str, main.lengths))} | {rhymes} "
            f"| {r['shape']:.1%} | {r['accepted']:.1%} |"
        )
    if args.json:
        args.json.write_text(json.dumps({"acceptance": rates}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
