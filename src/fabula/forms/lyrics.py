"""The `lyrics` form: a song in sections, kept to its shape by the same constraint as verse.

The distinct sections (each verse, the chorus once, the bridge) are written in one constrained
pass; the song is then assembled with the chorus repeated verbatim, and checked section by section.
Given a melody (`tune`, a file from `--from-melody`, or `tune_abc`, ABC text), its phrases are the lines instead
(`fabula.music.setting`): one syllable per note, stress on strong beats, a chorus sung again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from fabula.forms.base import Form, load_form, verdict
from fabula.verse.lyrics import (
    Section,
    assemble,
    check_lyrics,
    distinct_sections,
    generation_form,
    song_sections,
    zh_lines,
)


def language_of(inputs: Mapping[str, str]) -> str:
    return inputs.get("language", "en") or "en"


def tune_of(inputs: Mapping[str, str]) -> Any:
    """The melody the words are written to (`--from-melody`, or ABC text), or None."""
    from fabula.music.tune import tune_from_inputs

    return tune_from_inputs(inputs)


def sections_of(inputs: Mapping[str, str]) -> list[Section]:
    shapes = {
        "V": inputs.get("verse", ""),
        "C": inputs.get("chorus", ""),
        "B": inputs.get("bridge", ""),
        "P": inputs.get("prechorus", ""),
    }
    return song_sections(
        inputs.get("structure", "VCVCBC"), {k: v for k, v in shapes.items() if v}, language=language_of(inputs)
    )


def build() -> Form:
    def derive(inputs: dict[str, str]) -> dict[str, str]:
        tune = tune_of(inputs)
        if tune is not None:
            from fabula.music.setting import instruction

            text = instruction(tune)
            return {"instruction": text.replace("syllables", "characters") if language_of(inputs) == "zh" else text}
        parts = [
            f"{s.label}: {s.lines} lines of {s.syllables} syllables rhyming {s.scheme}"
            for s in distinct_sections(sections_of(inputs))
        ]
        if language_of(inputs) == "zh":
            parts = [p.replace("syllables", "characters") for p in parts]
            return {
                "instruction": "Write Chinese song lyrics, these sections in order, a blank line between them: "
                + "; ".join(parts)
                + "."
            }
        return {"instruction": "Write these sections in order, a blank line between them: " + "; ".join(parts) + "."}

    def keeps_shape(text: str, inputs: Mapping[str, str]) -> dict[str, Any]:
        report = check(text, inputs)
        return verdict("song_shape", report["ok"], "; ".join(report["violations"][:6]) or "keeps its shape")

    def check(text: str, inputs: Mapping[str, str]) -> dict[str, Any]:
        tune = tune_of(inputs)
        if tune is not None:
            from fabula.music.setting import check_setting

            return check_setting(text, tune, language_of(inputs))
        return check_lyrics(text, sections_of(inputs), language_of(inputs))

    def constrain(inputs: Mapping[str, str]) -> Any:
        from fabula.settings import get_settings
        from fabula.verse.lexicon import load_lexicon

        tune = tune_of(inputs)
        if tune is not None:
            from fabula.music.setting import constraint_for

            english = language_of(inputs) != "zh"
            return constraint_for(
                tune, language_of(inputs), load_lexicon(get_settings().home / "cache") if english else None
            )
        if language_of(inputs) == "zh":
            from fabula.verse.chinese_constraint import ChineseLyricsConstraint

            lines: list[tuple[int, str]] = []
            ends: set[int] = set()
            for section in distinct_sections(sections_of(inputs)):
                # letters made unique per section, so sections rhyme independently
                lines += [(section.syllables, f"{len(ends)}{letter}") for letter in section.scheme]
                ends.add(len(lines) - 1)
            return ChineseLyricsConstraint(lines, ends)
        from fabula.verse.constraint import VerseConstraint

        return VerseConstraint(generation_form(sections_of(inputs)), load_lexicon(get_settings().home / "cache"))

    def layout(text: str, inputs: Mapping[str, str]) -> str:
        tune = tune_of(inputs)
        if tune is not None:
            from fabula.music.setting import layout as tune_layout

            return tune_layout(text, tune)
        if language_of(inputs) == "zh" and "[" not in text:
            text = zh_lines(text)
        return assemble(text, sections_of(inputs))

    def continuation(inputs: Mapping[str, str]) -> str:
        if language_of(inputs) == "zh":  # our Tang-poem model knows titles as 《…》
            return f"《{inputs['prompt'].strip().strip('《》')}》"
        return inputs["prompt"]

    form = replace(
        load_form("lyrics"),
        validators=(keeps_shape,),
        derive=derive,
        constrain=constrain,
        report=check,
        assemble=layout,
        continuation=continuation,
    )
    sections_of(form.resolve_inputs(None, {}))  # the defaults must parse
    return form
