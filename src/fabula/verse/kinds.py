"""Every fixed verse form by its inputs: the validator that judges it and the constraint that writes it.

A poem's inputs (`form`, and what the form needs: `cipai`, `head`, `shape`, `first`, `scheme`)
name one `VerseKind`. The poem form, `fabula check poem` and the API's check all ask this module,
so the form a poem is written to and the form it is judged by are always the same one.

- English forms (haiku, limerick, quatrain, sonnet): syllables, rhyme, stress.
- Chinese regulated verse (wujue, qijue, wulv, qilv): 平仄 and 中华新韵 rhyme.
- ci: a tune (cipai=如梦令 ...) from the table read off the Song ci corpus (`fabula.verse.cipai`).
- acrostic: head=春风得意 over a shi form (shape=wujue|qijue|wulv|qilv; by default 五绝 for four
  heads, 五律 for eight), or head=MOON over an English form (shape=haiku|limerick|quatrain|sonnet;
  by default one unrhymed eight-syllable line per letter): line i begins with the i-th head.
- couplet (对联): first=上联 and the second line is written against it, or no first line and both
  are written (length=7 characters by default) (`fabula.verse.couplet`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fabula.errors import InvalidParam
from fabula.verse.chinese import FORMS as SHI_FORMS
from fabula.verse.chinese import HAN

CHINESE_FORMS = (*SHI_FORMS, "ci", "couplet")  # acrostic is Chinese when its head is
SHAPE_BY_HEADS = {4: "wujue", 8: "wulv"}  # a Chinese acrostic's form when none is named
NEW_FORMS = ("ci", "acrostic", "couplet")  # beyond the English and the regulated forms
CI_MODEL = "song-ci"  # configs/song-ci.toml: the Tang model fine-tuned on the Song ci


@dataclass(frozen=True)
class VerseKind:
    form: str  # the name a user gives: sonnet, wujue, ci, acrostic, couplet ...
    chinese: bool
    title: str
    instruction: str
    inputs: Mapping[str, str]

    def check(self, text: str) -> dict[str, Any]:
        return _check(self, text)

    def constraint(self) -> Any:
        return _constraint(self)

    def continuation(self, prompt: str) -> str:
        """The prompt a continuation model continues: our Tang-poem model was trained on
        "《title》poem" lines, so the prompt becomes the title; a couplet's first line follows it."""
        if not self.chinese:
            return prompt
        theme = prompt.strip().strip("《》")
        if self.form == "ci":  # the ci model was trained on "《tune，theme》" titles (fabula.data.poetry)
            return f"《{self.inputs['cipai']}，{theme}》" if theme else f"《{self.inputs['cipai']}》"
        title = f"《{theme}》"
        return f"{title}{self.inputs['first']}，" if self.form == "couplet" and self.inputs["first"] else title

    def assemble(self, text: str) -> str:
        """One line of verse per line (a ci: one clause per line), each with its punctuation."""
        if not self.chinese:
            return text
        if self.form == "couplet" and self.inputs["first"]:
            second = re.sub(r"\s+", "", text)
            return f"{self.inputs['first']}，\n{second}"
        if "\n" in text.strip():
            return text
        return re.sub(r"(?<=[，。！？；、])(?=.)", "\n", text.strip())


def written_in_chinese(form: str, inputs: Mapping[str, str]) -> bool:
    """Whether a work of this form and inputs is Chinese (classical verse, an acrostic on Han
    heads, Chinese lyrics): it is judged as Chinese and written by the Tang model by default."""
    if form == "lyrics":
        return inputs.get("language") == "zh"
    if form != "poem":
        return False
    verse = (inputs.get("form") or "").lower()
    return verse in CHINESE_FORMS or (verse == "acrostic" and bool(HAN.match(inputs.get("head", "").strip())))


def shipped_model(form: str, inputs: Mapping[str, str]) -> str:
    """The shipped GPT that writes Chinese verse of this kind when no model is named: the model
    fine-tuned on the Song ci for a ci, else "" (the registry's default, the Tang-poem model)."""
    return CI_MODEL if form == "poem" and (inputs.get("form") or "").lower() == "ci" else ""


def verse_kind(inputs: Mapping[str, str]) -> VerseKind | None:
    """The fixed form the inputs ask for, or None for free verse; bad inputs raise InvalidParam."""
    form = (inputs.get("form") or "free").lower()
    if form in SHI_FORMS:
        length, count, title = SHI_FORMS[form]
        return VerseKind(
            form,
            True,
            title,
            f"Write a {title} in classical Chinese: {count} lines of {length} characters, the even lines "
            "rhyming on level-tone characters, following the regulated tone pattern.",
            inputs,
        )
    if form == "ci":
        from fabula.verse.cipai import cipai, load_table

        name = inputs.get("cipai", "").strip()
        if not name:
            raise InvalidParam(
                "cipai", name, f"a ci needs its tune: --set cipai=NAME, one of {', '.join(load_table())}"
            )
        tune = cipai(name)
        lengths = ",".join(map(str, tune.shapes[0].lengths))
        return VerseKind(
            form,
            True,
            f"词·{name}",
            f"Write a ci to the tune {name}: clauses of {lengths} characters, its tones and rhymes.",
            {**inputs, "cipai": name},
        )
    if form == "acrostic":
        return _acrostic(inputs)
    if form == "couplet":
        from fabula.verse.couplet import check_first_line

        first = check_first_line(inputs["first"]) if inputs.get("first", "").strip() else ""
        what = f"the second line of a couplet to {first}" if first else "a couplet, both lines"
        return VerseKind(
            form,
            True,
            "对联",
            f"Write {what}: lines of one length, each position's tone and part of speech opposed.",
            {**inputs, "first": first},
        )
    from fabula.verse.forms import verse_form

    english = verse_form(form, inputs.get("scheme") if form == "quatrain" else None)
    if not english.lines:
        return None
    return VerseKind(form, False, english.title, english.instruction, inputs)


def _acrostic(inputs: Mapping[str, str]) -> VerseKind:
    head = "".join(inputs.get("head", "").split())
    if not head:
        raise InvalidParam("head", head, "an acrostic needs its heads: --set head=春风得意 or --set head=MOON")
    shape = (inputs.get("shape") or "").lower()
    if HAN.fullmatch(head[0]):
        if not all(HAN.fullmatch(c) for c in head):
            raise InvalidParam("head", head, "a Chinese acrostic's heads are Han characters only")
        if not shape and len(head) not in SHAPE_BY_HEADS:
            raise InvalidParam("head", head, "a Chinese acrostic has 4 heads (a 绝句) or 8 (a 律诗), one per line")
        shape = shape or SHAPE_BY_HEADS[len(head)]
        if shape not in SHI_FORMS:
            raise InvalidParam("shape", shape, f"a Chinese acrostic is one of the shi forms: {', '.join(SHI_FORMS)}")
        length, count, title = SHI_FORMS[shape]
        if len(head) != count:
            raise InvalidParam("head", head, f"a {title} has {count} lines: give {count} heads, one per line")
        return VerseKind(
            "acrostic",
            True,
            f"藏头{title}",
            f"Write a {title} whose lines begin with {', '.join(head)} in turn.",
            {**inputs, "head": head, "shape": shape},
        )
    if not head.isascii() or not head.isalpha():
        raise InvalidParam("head", head, "an English acrostic's head is a word of letters A-Z")
    from fabula.verse.acrostic import acrostic_form

    english = acrostic_form(head, shape or None)
    return VerseKind(
        "acrostic",
        False,
        english.title,
        english.instruction,
        {**inputs, "head": head.upper(), "shape": shape},
    )


def _check(kind: VerseKind, text: str) -> dict[str, Any]:
    inputs = kind.inputs
    if kind.form in SHI_FORMS:
        from fabula.verse.chinese import check_chinese

        return check_chinese(text, kind.form)
    if kind.form == "ci":
        from fabula.verse.cipai import check_ci

        return check_ci(text, inputs["cipai"])
    if kind.form == "couplet":
        from fabula.verse.couplet import check_couplet

        return check_couplet(text)
    if kind.form == "acrostic":
        from fabula.verse.acrostic import check_acrostic

        return check_acrostic(text, inputs["head"], inputs.get("shape") or None, kind.chinese)
    from fabula.verse.check import check_poem
    from fabula.verse.forms import verse_form

    return check_poem(text, verse_form(kind.form, inputs.get("scheme") if kind.form == "quatrain" else None))


def _constraint(kind: VerseKind) -> Any:
    inputs = kind.inputs
    if kind.form in SHI_FORMS or (kind.form == "acrostic" and kind.chinese):
        from fabula.verse.chinese_constraint import ChineseVerseConstraint

        if kind.form == "acrostic":
            return ChineseVerseConstraint(inputs["shape"], heads=inputs["head"])
        return ChineseVerseConstraint(kind.form)
    if kind.form == "ci":
        from fabula.verse.chinese_constraint import CiConstraint

        return CiConstraint(inputs["cipai"])
    if kind.form == "couplet":
        from fabula.verse.couplet import CoupletConstraint

        return CoupletConstraint(inputs["first"] or None, _length(inputs.get("length", "7")))
    from fabula.settings import get_settings
    from fabula.verse.constraint import VerseConstraint
    from fabula.verse.forms import verse_form
    from fabula.verse.lexicon import load_lexicon

    lexicon = load_lexicon(get_settings().home / "cache")
    if kind.form == "acrostic":
        from fabula.verse.acrostic import AcrosticConstraint, acrostic_form

        return AcrosticConstraint(acrostic_form(inputs["head"], inputs.get("shape") or None), lexicon, inputs["head"])
    return VerseConstraint(verse_form(kind.form, inputs.get("scheme") if kind.form == "quatrain" else None), lexicon)


def _length(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidParam("length", value, "a couplet's line length in characters, e.g. --set length=7") from None
