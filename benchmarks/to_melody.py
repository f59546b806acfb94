"""Words written to given melodies: syllables per note, stress on strong beats, tones following pitch.

The tunes are the ABC files in tests/fixtures/tunes: public-domain songs written down by hand (Twinkle,
Ode to Joy, Frère Jacques, Mary Had a Little Lamb, Amazing Grace, Au clair de la lune, London
Bridge, Row Your Boat, Jingle Bells) and ten of our own (Harbour Waltz, Night Train, Lantern Song,
Morning Bell, River Road, Evening Hymn, Sea Shanty, Cradle, Market Day, Snowfall). Each tune gets
English words on the embedded default model and Chinese words on the shipped Tang-poem model, once
asked only (the lyrics form's prompt names the syllable counts; the model writes freely) and once
constrained (`fabula write lyrics --from-melody`), with the same seed. Reported per language and
mode: songs whose every line has one syllable per note, the share of lines that do, the share of
strong-beat notes on a stressed syllable (English) or of pitch steps whose tone follows (Chinese),
seconds per song, and whether music21 reads the MIDI export back note for note with a lyric on each
note that starts a syllable (none on the further notes of a slurred melisma).

    python benchmarks/to_melody.py [--json benchmarks/results/to_melody.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("FABULA_HOME", tempfile.mkdtemp(prefix="fabula-bench-"))

TUNES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "tunes"
PROMPTS = {
    "en": ["the harbour at night", "a letter home", "first snow", "the last train", "a garden in june"],
    "zh": ["星夜", "归舟", "春雪", "晚钟", "故园"],
}


def run(seed: int, folder: Path) -> dict[str, dict[str, list[dict[str, Any]]]]:
    import music21

    from fabula.backends import get_backend
    from fabula.music.export import write_midi
    from fabula.music.setting import check_setting, sung_melody
    from fabula.music.tune import read_tune
    from fabula.pipeline import write
    from fabula.sampling import SamplingParams
    from fabula.settings import get_settings

    engines = {"en": get_backend("llamacpp", "", get_settings()), "zh": get_backend("gpt", "", get_settings())}
    tunes = sorted(TUNES.glob("*.abc"))
    for language, backend in engines.items():  # load the models and the lexicon before timing
        write(backend, "lyrics", "warm-up", {"tune": str(tunes[0]), "language": language}, SamplingParams(seed=0))
    results: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for language, backend in engines.items():
        for i, path in enumerate(tunes):
            tune = read_tune(path)
            prompt = PROMPTS[language][i % len(PROMPTS[language])]
            for mode in ("off", "on"):
                params = SamplingParams(seed=seed + i, max_tokens=500, temperature=0.8)
                inputs = {"tune": str(path), "language": language}
                start = time.perf_counter()
                work = write(backend, "lyrics", prompt, inputs, params, constrain=(mode == "on"))
                seconds = time.perf_counter() - start
                report = check_setting(work.text, tune, language)
                one_per_note = len(work.text.splitlines()) == len(tune.phrases)
                row: dict[str, Any] = {
                    "tune": path.stem,
                    "seconds": seconds,
                    "ok": report["ok"],
                    "every_line": report["syllables_per_note"] == 1.0 and one_per_note,
                    "lines_matched": report["syllables_per_note"],
                    "fit": report.get("strong_beat_stress", report.get("tone_pitch_agreement")),
                    "text": work.text,
                }
                if row["every_line"]:
                    midi = write_midi(sung_melody(tune, work.text), folder / f"{path.stem}-{language}-{mode}.mid")
                    # a note held across a bar line comes back as two tied notes: read them as one
                    notes = list(music21.converter.parse(str(midi)).stripTies().recurse().notes)
                    # a lyric on every note that starts a syllable, none on a melisma's held notes
                    starts = [not n.held for n in tune.notes]
                    lyrics = [bool(n.lyric) for n in notes]
                    row["music21_reads"] = len(notes) == len(tune.notes) and lyrics == starts
                results.setdefault(language, {"off": [], "on": []})[mode].append(row)
            on = results[language]["on"][-1]
            print(f"{language} {path.stem:15} on ok={on['ok']} fit={on['fit']}", file=sys.stderr, flush=True)
    return results


def summary(results: dict[str, dict[str, list[dict[str, Any]]]]) -> str:
    lines = [
        "| words | mode | songs with one syllable per note | lines | stress on strong beats / tones following pitch "
        "(median) | s/song | music21 reads the MIDI, a lyric per sung syllable |",
        "|---|---|---|---|---|---|---|",
    ]
    for language, modes in results.items():
        for mode, rows in modes.items():
            exact = sum(r["every_line"] for r in rows)
            read = sum(r.get("music21_reads", False) for r in rows)
            fits = [r["fit"] for r in rows if r["every_line"]]
            fit = f"{statistics.median(fits):.0%}" if fits else "-"
            lines.append(
                f"| {'English' if language == 'en' else 'Chinese'} | {'asked' if mode == 'off' else 'constrained'} "
                f"| {exact}/{len(rows)} | {statistics.mean(r['lines_matched'] for r in rows):.0%} | {fit} "
                f"| {statistics.median(r['seconds'] for r in rows):.2f} | {read}/{exact} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        results = run(args.seed, Path(scratch))
    table = summary(results)
    print(table)
    if args.json:
        args.json.write_text(json.dumps({"summary": table, "results": results}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
