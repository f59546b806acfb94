"""Writing a plan level by level: one engine call per step, saved after each, bounded retries.

Each structured level is decoded under a JSON Schema built from the levels above it (see
`fabula.plan.schemas`), then parsed into entities; a parse failure, an inconsistency or a loop
is an error that triggers another attempt with the next seed, at most MAX_ATTEMPTS per step, and
then a clear error: the plan keeps every step already done, so `resume` continues from there.
Every step records its seed, attempts, the story-bible entries it was given, tokens and time.
A chapter or scene is also told the story so far and checked against the continuity ledger of
the units before it (`fabula.plan.continuity`); what no attempt fixes is kept and recorded.
"""

from __future__ import annotations

import json
import logging
import time
import tomllib
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

from fabula.backends.base import Backend
from fabula.continuity.context import DEFAULT_BUDGET as CONTEXT_BUDGET
from fabula.continuity.context import SoFar, extractive_summary
from fabula.continuity.manuscript import sentences
from fabula.errors import FabulaError
from fabula.plan import continuity, schemas
from fabula.plan.bible import DEFAULT_BUDGET, Entry, select
from fabula.plan.entities import Beat, Character, Line, Place, PlanParseError, Scene, SceneScript
from fabula.plan.model import TOP_LEVELS, Plan, template_beats
from fabula.post.clean import clean
from fabula.post.language import check_language
from fabula.post.loops import find_loop
from fabula.sampling import MAX_SEED, SamplingParams
from fabula.types import Message, Request

LOG = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
TOKENS_PER_ITEM = 170  # a JSON item (a beat, a scene) with the whitespace small models add
PROSE_WORDS = 250
SUMMARY_TOKENS = 90  # two sentences
SUMMARY_SOURCE_WORDS = 450  # a chapter of PROSE_WORDS or so, and most of a long scene

OnStep = Callable[[str, int, int], None]  # (step, index, total) before each step


@cache
def prompts() -> dict[str, Any]:
    return tomllib.loads(resources.files("fabula.plan").joinpath("prompts.toml").read_text(encoding="utf-8"))


def plan_entries(plan: Plan) -> list[Entry]:
    """The bible a step sees: the user's entries plus the plan's own characters and places."""
    derived = [Entry("character", c.name, c.description, source="plan") for c in plan.characters or ()]
    derived += [Entry("place", p.name, p.description, source="plan") for p in plan.places or ()]
    return [*plan.bible, *derived]


def _cast(plan: Plan) -> str:
    return "\n".join(f"- {c.name}: {c.description}" for c in plan.characters or ())


def _json(text: str) -> Any:
    """The answer's JSON. Raw tabs and newlines inside strings are accepted (a pattern's character
    class lets them through on some engines); every field is whitespace-normalised afterwards."""
    return json.loads(text, strict=False)


def _dedupe(names: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


class PlanWriter:
    """Runs a plan's pending steps on one engine, saving the plan after every step."""

    def __init__(
        self,
        backend: Backend,
        save: Callable[[Plan], None],
        params: SamplingParams | None = None,
        budget: int = DEFAULT_BUDGET,
        on_step: OnStep | None = None,
        context_budget: int = CONTEXT_BUDGET,
    ) -> None:
        self.backend = backend
        self.context_budget = context_budget
        self.save = save
        self.params = params or SamplingParams(temperature=0.8, top_p=0.95)
        self.budget = budget
        self.on_step = on_step

    # ---- the job -------------------------------------------------------------------------------

    def run(self, plan: Plan) -> Plan:
        """Write every pending step, in order; the plan is saved after each one."""
        while plan.pending():
            step = plan.pending()[0]
            if self.on_step:
                steps = plan.steps()
                self.on_step(step, steps.index(step), len(steps))
            started = time.perf_counter()
            self.write_step(plan, step)
            self.save(plan)
            LOG.info("plan %s: wrote %s in %.1f s, saved", plan.id, step, time.perf_counter() - started)
        return plan

    def write_step(self, plan: Plan, step: str) -> None:
        if step in TOP_LEVELS:  # writing a gap is not a change to undo; regenerate and edit are
            setattr(plan, step, getattr(self, f"_{step}")(plan, step))
        else:
            index = int(step[step.index("[") + 1 : -1])
            plan.units[index] = self._unit(plan, step, index)
            if plan.context:
                self.summarise(plan, index)

    # ---- one engine call, parsed, with bounded retries ------------------------------------------

    def _seed(self, plan: Plan, step: str, attempt: int) -> int:
        steps = plan.steps()
        if step.startswith("summary["):  # after every step of the plan, one number per unit
            number = len(steps) + 1 + int(step[8:-1])
        else:
            number = steps.index(step) if step in steps else len(steps)
        regen = plan.regenerations.get(step, 0)
        return (plan.seed + 7919 * number + 101 * regen + attempt) % (MAX_SEED + 1)

    def _ask(
        self,
        plan: Plan,
        step: str,
        prompt: str,
        about: str,
        fill: dict[str, str],
        parse: Callable[[str], Any],
        schema: dict[str, Any] | None,
        max_tokens: int,
        review: Callable[[Any], list[str]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Any:
        """One step: ask, parse (a parse error tries the next seed), review (a problem such as a
        contradiction with earlier units tries the next seed too; when every attempt has one, the
        attempt with the fewest is kept and its problems are recorded as unresolved, never dropped)."""
        template = prompts()[prompt]
        bible, injected = select(plan_entries(plan), about, self.budget)
        user = template["user"].format(**fill, bible=bible, logline=plan.logline, kind=plan.kind)
        messages = (Message("system", template["system"]), Message("user", user))
        failures: list[str] = []
        started = time.perf_counter()
        tokens = 0
        best: tuple[list[str], Any, int, int] | None = None  # (problems, value, seed, attempt)
        for attempt in range(MAX_ATTEMPTS):
            seed = self._seed(plan, step, attempt)
            params = self.params.with_(seed=seed, n=1, max_tokens=max_tokens)
            request = Request(messages, user + "\n", params, json_schema=schema)
            completion = self.backend.complete(request)[0]
            tokens += completion.completion_tokens
            text = completion.text
            if schema is None:  # prose: a cut-off last sentence is trimmed, as for any story
                text = clean(text, prompt=user, truncated=completion.finish_reason == "length").text
            try:
                value = parse(text)
            except (ValueError, KeyError, TypeError, FabulaError) as exc:
                failures.append(f"attempt {attempt + 1} (seed {seed}): {exc}")
                LOG.info("plan %s, %s: attempt %d unusable (%s); trying the next seed", plan.id, step, attempt + 1, exc)
                continue
            problems = review(value) if review else []
            if problems:
                failures.append(f"attempt {attempt + 1} (seed {seed}): {'; '.join(problems)}")
                LOG.info("plan %s, %s: attempt %d does not fit the story (%s)", plan.id, step, attempt + 1, problems[0])
                if best is None or len(problems) < len(best[0]):
                    best = (problems, value, seed, attempt)
                continue
            record = {"seed": seed, "attempts": attempt + 1, "unresolved": []}
            break
        else:
            if best is None:
                raise PlanParseError(
                    f"plan {plan.id}, step {step}: no usable answer in {MAX_ATTEMPTS} attempts "
                    f"({'; '.join(failures)}); the plan keeps every earlier step: "
                    f"`fabula plan resume {plan.id}` tries again with new seeds"
                )
            problems, value, seed, _ = best
            LOG.warning(
                "plan %s, %s: kept with %d unresolved problem(s): %s", plan.id, step, len(problems), problems[0]
            )
            record = {"seed": seed, "attempts": MAX_ATTEMPTS, "unresolved": problems}
        plan.log.append(
            {
                "step": step,
                "prompt": f"{prompt}@{prompts()['version']}",
                **record,
                "failures": failures,
                "bible": injected,
                "json_schema": schema is not None,
                "completion_tokens": tokens,
                "seconds": round(time.perf_counter() - started, 3),
                "messages": [{"role": m.role, "content": m.content} for m in messages],
                **(extra or {}),
            }
        )
        return value

    # ---- the levels ----------------------------------------------------------------------------

    def _title(self, plan: Plan, step: str) -> str:
        def parse(text: str) -> str:
            title = " ".join(str(_json(text)["title"]).split())
            if not title:
                raise ValueError("the title is empty")
            return title

        return self._ask(plan, step, "title", plan.logline, {}, parse, schemas.title_schema(), 80)  # type: ignore[no-any-return]

    def _characters(self, plan: Plan, step: str) -> tuple[Character, ...]:
        def parse(text: str) -> tuple[Character, ...]:
            people = tuple(Character(d["name"], " ".join(d["description"].split())) for d in _json(text)["characters"])
            names = [c.name for c in people]
            if len(set(names)) != len(names):
                raise ValueError(f"names repeat: {names}")
            return people

        fill = {"title": plan.title or "", "count": str(plan.cast_size)}
        schema = schemas.characters_schema(plan.cast_size)
        return self._ask(plan, step, "characters", plan.logline, fill, parse, schema, 120 + 110 * plan.cast_size)  # type: ignore[no-any-return]

    def _beats(self, plan: Plan, step: str) -> tuple[Beat, ...]:
        template = template_beats(plan.template)
        names = [name for name, _ in template]

        def parse(text: str) -> tuple[Beat, ...]:
            data = _json(text)["beats"]
            if [d["beat"] for d in data] != names:
                raise ValueError(f"beats are not the template's {names}")
            return tuple(Beat(d["beat"], " ".join(d["summary"].split())) for d in data)

        fill = {
            "title": plan.title or "",
            "cast": _cast(plan),
            "template": plan.template,
            "guide": "\n".join(f"- {name}: {guide}" for name, guide in template),
        }
        tokens = 100 + TOKENS_PER_ITEM * len(names)
        return self._ask(plan, step, "beats", plan.logline, fill, parse, schemas.beats_schema(names), tokens)  # type: ignore[no-any-return]

    def _scene_of(self, d: dict[str, Any], cast: list[str]) -> Scene:
        present = _dedupe(list(d["characters"]))
        strangers = [n for n in present if n not in cast]
        if strangers:
            raise ValueError(f"scene characters {strangers} are not in the cast {cast}")
        place = " ".join(str(d["place"]).split()).title()
        return Scene(d["beat"], d["setting"], place, d["time"], present, " ".join(d["summary"].split()))

    def _scenes(self, plan: Plan, step: str) -> tuple[Scene, ...]:
        beats = [b.name for b in plan.beats or ()]
        cast = [c.name for c in plan.characters or ()]

        def parse(text: str) -> tuple[Scene, ...]:
            data = _json(text)["scenes"]
            if [d["beat"] for d in data] != beats:
                raise ValueError("scenes do not follow the beats one by one")
            return tuple(self._scene_of(d, cast) for d in data)

        fill = {"cast": _cast(plan), "beats": "\n".join(f"- {b.name}: {b.summary}" for b in plan.beats or ())}
        tokens = 100 + TOKENS_PER_ITEM * len(beats)
        return self._ask(plan, step, "scenes", plan.logline, fill, parse, schemas.scenes_schema(beats, cast), tokens)  # type: ignore[no-any-return]

    def rewrite_scene(self, plan: Plan, index: int) -> Scene:
        """One scene again (for `regenerate scenes[i]`), for the same beat and cast."""
        beat = (plan.beats or ())[index]
        cast = [c.name for c in plan.characters or ()]
        fill = {"cast": _cast(plan), "beat": beat.name, "beat_summary": beat.summary}
        step = f"scenes[{index}]"
        schema = schemas.scene_schema(beat.name, cast)
        return self._ask(  # type: ignore[no-any-return]
            plan, step, "scene", beat.summary, fill, lambda t: self._scene_of(_json(t), cast), schema, 300
        )

    def rewrite_character(self, plan: Plan, index: int) -> Character:
        """One character again (for `regenerate characters[i]`), named unlike the others."""
        others = [c.name for i, c in enumerate(plan.characters or ()) if i != index]
        fill = {"title": plan.title or "", "others": ", ".join(others)}

        def parse(text: str) -> Character:
            d = _json(text)
            if d["name"] in others:
                raise ValueError(f"{d['name']} is already in the cast")
            return Character(d["name"], " ".join(d["description"].split()))

        step = f"characters[{index}]"
        schema = schemas.character_schema(others)
        return self._ask(plan, step, "character", plan.logline, fill, parse, schema, 200)  # type: ignore[no-any-return]

    def _places(self, plan: Plan, step: str) -> tuple[Place, ...]:
        """The places already described, plus descriptions of any scene place not described yet."""
        have = plan.places or ()
        named = {p.name for p in have}
        names = [n for n in dict.fromkeys(s.place for s in plan.scenes or ()) if n not in named]
        if not names:
            return have

        def parse(text: str) -> tuple[Place, ...]:
            data = _json(text)["places"]
            return (*have, *(Place(d["place"], " ".join(d["description"].split())) for d in data))

        fill = {"names": ", ".join(names)}
        tokens = 60 + 110 * len(names)
        return self._ask(plan, step, "places", " ".join(names), fill, parse, schemas.places_schema(names), tokens)  # type: ignore[no-any-return]

    def _unit(self, plan: Plan, step: str, index: int) -> Any:
        """A chapter or a scene's dialogue, told the story so far, checked against the ledger."""
        scene = (plan.scenes or ())[index]
        present = list(scene.characters)
        about = f"{scene.summary} {' '.join(present)} {scene.place}"
        recap = self._so_far(plan, index)
        extra = {"so_far": {"units": list(recap.units), "passage_from": recap.passage_from, "tokens": recap.tokens}}

        def review(value: Any) -> list[str]:
            """Soft problems: another seed is tried, and the attempt with fewest kept if all have some."""
            copied = [f"it repeats {where}: {run!r}" for where, run in continuity.unit_repeats(plan, index, value)]
            said = continuity.phrase_repeat(plan, (index, value))
            again = [f"it says {said[0]!r} {said[1]} times in the work"] if said else []
            names = continuity.name_only_lines(value, [c.name for c in plan.characters or ()])
            contradicted = [c.detail for c in continuity.unit_contradictions(plan, index, value)]
            english, language = check_language(continuity.raw_text(value), "en")
            return copied + again + names + contradicted + ([] if english else [f"language: {language}"])

        if plan.kind == "screenplay":

            def parse(text: str) -> SceneScript:
                d = _json(text)
                lines = tuple(Line(x["character"], " ".join(x["line"].split())) for x in d["lines"])
                strangers = sorted({line.character for line in lines} - set(present))
                if strangers:
                    raise ValueError(f"{strangers} speak but are not in the scene")
                loop = find_loop("\n".join(line.text for line in lines))
                if loop:
                    raise ValueError(f"the dialogue loops: {loop}")
                return SceneScript(" ".join(d["action"].split()), lines)

            fill = {"title": plan.title or "", "heading": scene.heading, "summary": scene.summary}
            fill["present"] = ", ".join(present)
            fill["so_far"] = recap.text
            schema = schemas.dialogue_schema(present)
            return self._ask(plan, step, "dialogue", about, fill, parse, schema, 900, review, extra)

        def parse_prose(text: str) -> str:
            prose = text.strip()
            if len(prose.split()) < 20:
                raise ValueError(f"the chapter has only {len(prose.split())} words")
            loop = find_loop(prose)
            if loop:
                raise ValueError(f"the chapter loops: {loop}")
            return prose

        fill = {
            "title": plan.title or "",
            "number": str(index + 1),
            "chapters": str(len(plan.scenes or ())),
            "summary": scene.summary,
            "present": ", ".join(present),
            "words": str(PROSE_WORDS),
            "so_far": recap.text,
        }
        return self._ask(plan, step, "prose", about, fill, parse_prose, None, int(PROSE_WORDS * 1.8), review, extra)

    # ---- the story so far ----------------------------------------------------------------------

    def _so_far(self, plan: Plan, index: int) -> SoFar:
        if not plan.context:
            return SoFar("", (), None, 0)
        for earlier in continuity.stale_summaries(plan, index):  # an edit, or a plan written before summaries
            self.summarise(plan, earlier)
        return continuity.so_far(plan, index, self.context_budget)

    def summarise(self, plan: Plan, index: int) -> str:
        """Summarise unit `index` in a sentence or two (its own step in the log); when no attempt
        gives a usable summary, its first and last sentences stand in, marked as such."""
        text = continuity.unit_text(plan.units[index])
        step = f"summary[{index}]"

        def parse(answer: str) -> str:
            said = sentences(answer)[:2]
            summary = " ".join(said)
            if len(summary.split()) < 6:
                raise ValueError(f"the summary has only {len(summary.split())} words")
            loop = find_loop(summary)
            if loop:
                raise ValueError(f"the summary loops: {loop}")
            return summary

        label = "scene" if plan.kind == "screenplay" else "chapter"
        fill = {"label": label, "number": str(index + 1), "text": " ".join(text.split()[:SUMMARY_SOURCE_WORDS])}
        try:
            summary = self._ask(plan, step, "summary", text, fill, parse, None, SUMMARY_TOKENS)
            how = "model"
        except PlanParseError as exc:
            summary = extractive_summary(text)
            how = "extractive"
            plan.log.append({"step": step, "extractive": True, "reason": str(exc)})
        plan.summaries[index] = {"text": summary, "of": continuity.digest(text), "by": how}
        return str(summary)
