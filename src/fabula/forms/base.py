"""A creative form: its inputs, its prompt template (a data file) and its validators.

Templates live in `forms/templates/NAME.toml` so writers can change prompts without touching
code; the template's `version` goes into provenance so a work records exactly which prompt made it.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

from fabula.errors import FormError
from fabula.types import Message

Validator = Callable[[str, Mapping[str, str]], dict[str, Any]]
Derive = Callable[[dict[str, str]], dict[str, str]]
Constrain = Callable[[Mapping[str, str]], Any]
Report = Callable[[str, Mapping[str, str]], dict[str, Any]]
# (backend, request, inputs, text) -> (mended text, report); the backend is any engine (the protocol)
Repair = Callable[[Any, Any, Mapping[str, str], str], tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class InputSpec:
    name: str
    default: str
    help: str = ""
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class RenderedPrompt:
    messages: tuple[Message, ...]
    completion_prompt: str
    inputs: dict[str, str]


@dataclass(frozen=True)
class Form:
    name: str
    version: int
    description: str
    default_prompt: str
    inputs: tuple[InputSpec, ...]
    system: str
    user: str
    completion: str
    checks: dict[str, Any]
    validators: tuple[Validator, ...] = field(default=())
    derive: Derive | None = None  # computed template values (e.g. a verse form's instruction)
    constrain: Constrain | None = None  # a text constraint for steerable engines, or None
    report: Report | None = None  # a full validator report, stored as a candidate's "checks"
    assemble: Callable[[str, Mapping[str, str]], str] | None = None  # lay out generated text (songs)
    # what a text-continuation model (no instructions) is given instead of the instruction prompt
    continuation: Callable[[Mapping[str, str]], str] | None = None
    # structured forms (JSON): the schema decoding must keep; their text is never "cleaned" as prose
    json_schema: Callable[[Mapping[str, str]], dict[str, Any]] | None = None
    # file formats the work can be written to with `fabula write ... --export FILE.SUFFIX`
    exports: Mapping[str, Callable[[str], str]] = field(default_factory=dict)
    # for an engine that cannot be stepped, so `constrain` cannot apply: mend a generated text after
    # the fact, (backend, request, inputs, text) -> (text, report); a fixed verse form's line repair
    repair: Repair | None = None
    # checks whose failure is worth another sample, not only a lower rank (a summary that invents a
    # number): a failing candidate is resampled within the pipeline's bounded retries
    resample_when: tuple[str, ...] = ()

    @property
    def template_id(self) -> str:
        return f"{self.name}@{self.version}"

    def resolve_inputs(self, prompt: str | None, values: Mapping[str, str]) -> dict[str, str]:
        """Defaults filled in, unknown keys and values outside `choices` refused by name."""
        known = {spec.name: spec for spec in self.inputs}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise FormError(
                f"form {self.name!r} has no input {unknown[0]!r}; its inputs are: {', '.join(known) or 'none'}",
                input=unknown[0],
            )
        resolved = {name: str(values.get(name, spec.default)) for name, spec in known.items()}
        for name, spec in known.items():
            if spec.choices and resolved[name] not in spec.choices:
                raise FormError(
                    f"{name}={resolved[name]!r} is not allowed for {self.name}; choose one of: "
                    f"{', '.join(spec.choices)}"
                )
        text = (prompt if prompt is not None else self.default_prompt).strip()
        if not text:
            raise FormError(f"the {self.name} prompt is empty; give a premise or leave it out")
        resolved["prompt"] = text
        return resolved

    def render(self, prompt: str | None, values: Mapping[str, str]) -> RenderedPrompt:
        inputs = self.resolve_inputs(prompt, values)
        fill = {**inputs, **(self.derive(inputs) if self.derive else {})}
        messages = (
            Message("system", _fill(self.system, fill, self.name)),
            Message("user", _fill(self.user, fill, self.name)),
        )
        return RenderedPrompt(messages, _fill(self.completion, fill, self.name), inputs)

    def validate(self, text: str, inputs: Mapping[str, str]) -> list[dict[str, Any]]:
        return [validator(text, inputs) for validator in self.validators]


def _fill(template: str, values: Mapping[str, str], form: str) -> str:
    """Substitute {name} placeholders; user text is inserted verbatim, never re-interpreted."""
    out = []
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        out.append(literal)
        if name is None:
            continue
        if name not in values:
            raise FormError(f"template of {form!r} uses {{{name}}}, which is not an input of the form")
        out.append(values[name])
    return "".join(out)


def load_form(name: str) -> Form:
    """The form's template data; its module adds validators and hooks with dataclasses.replace."""
    return _form_from(resources.files("fabula.forms.templates").joinpath(f"{name}.toml"), name)


def load_form_file(path: Any, name: str) -> Form:
    """A form from a template TOML of one's own (FABULA_HOME/forms/NAME.toml), no code needed: the
    prompt and inputs as written, and the length check its [checks] table asks for."""
    form = _form_from(path, name)
    if form.name != name:
        raise FormError(f"{path}: the template's name {form.name!r} must match its file name {name!r}")
    least = int(form.checks.get("min_words", 0) or 0)
    most = int(form.checks.get("max_words", 0) or 0)

    def length(text: str, _inputs: Mapping[str, str]) -> dict[str, Any]:
        words = len(text.split())
        ok = words >= least and (not most or words <= most)
        return verdict("length", ok, f"{words} words (from {least}" + (f" to {most})" if most else ")"))

    return replace(form, validators=(length,))


def _form_from(source: Any, name: str) -> Form:
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise FormError(f"the template for form {name!r} cannot be read: {exc}") from exc
    for key in ("name", "version", "prompt"):
        if key not in data:
            raise FormError(f"the template for form {name!r} has no {key!r}; see fabula's own templates for the layout")
    inputs = tuple(
        InputSpec(key, str(spec.get("default", "")), spec.get("help", ""), tuple(spec.get("choices", ())))
        for key, spec in data.get("inputs", {}).items()
    )
    prompt = data["prompt"]
    return Form(
        name=data["name"],
        version=int(data["version"]),
        description=data.get("description", ""),
        default_prompt=data.get("default_prompt", ""),
        inputs=inputs,
        system=prompt["system"],
        user=prompt["user"],
        completion=prompt["completion"],
        checks=dict(data.get("checks", {})),
    )


def verdict(check: str, passed: bool, detail: str, severity: str = "error") -> dict[str, Any]:
    """One check's outcome; `error` severity rejects a candidate, `warning` only marks it. Built
    through `records.Verdict`, so a bad severity or a non-boolean outcome fails here, by name."""
    from fabula.records import Verdict

    return Verdict(check=check, passed=bool(passed), detail=str(detail), severity=severity).model_dump()  # type: ignore[arg-type]
