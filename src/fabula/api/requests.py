"""Parsing and validating API request bodies into fabula's own types, naming every bad value.

FastAPI's pydantic models would answer 422 in their own format; OpenAI clients expect 400 with
`{"error": {"message", "type", "param"}}`, so bodies are read as JSON and checked here, with the
same rules (`SamplingParams`) the CLI uses. Text fields must be real text: lone surrogates and NUL
characters are refused by name; right-to-left scripts and emoji are text like any other.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from fabula.api.guard import MAX_BODY_BYTES
from fabula.errors import InvalidParam, TooLarge
from fabula.sampling import SamplingControls, SamplingParams
from fabula.types import Message

MAX_JSON_DEPTH = 64  # no request body of ours nests deeper than a handful of levels
MAX_NUMBER_DIGITS = 40  # a seed is 10 digits; Python would spend quadratic time on 100,000
MAX_PROMPT_CHARS = 200_000
ROLES = ("system", "user", "assistant")
# newer OpenAI clients send the system prompt as "developer"; it is the system prompt here
ROLE_ALIASES = {"developer": "system"}
# other names real clients send for fabula's own controls (llama.cpp's server fields, newer OpenAI)
FIELD_ALIASES = {"max_completion_tokens": "max_tokens", "repeat_penalty": "repetition_penalty"}
# OpenAI fields that change nothing here when left at these values; anything else is refused
NEUTRAL: dict[str, tuple[Any, ...] | None] = {
    "user": None,
    "echo": (False, None),
    "best_of": (None, 1),
    "suffix": (None, ""),
    "tool_choice": (None, "none"),
    "tools": (None, []),
    "parallel_tool_calls": None,
}
SAMPLING_FIELDS = set(SamplingControls.model_fields)  # every control the CLI has, by the same names


def _bounded_number(kind: type) -> Any:
    def parse(text: str) -> Any:
        if len(text) > MAX_NUMBER_DIGITS:
            raise InvalidParam(
                "body", f"a {len(text)}-digit number", f"numbers have at most {MAX_NUMBER_DIGITS} digits"
            )
        return kind(text)

    return parse


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


def json_depth(body: bytes) -> int:
    """How deep brackets nest outside strings, computed at C speed (a regex drops the strings, numpy
    sums the brackets) before the parser, whose recursion a 50,000-level body would exhaust."""
    import numpy as np

    bare = np.frombuffer(_STRING.sub(b"", body), dtype=np.uint8)
    steps = np.isin(bare, (0x5B, 0x7B)).astype(np.int32) - np.isin(bare, (0x5D, 0x7D)).astype(np.int32)
    return int(np.cumsum(steps).max(initial=0))


def parse_json(body: bytes) -> dict[str, Any]:
    """A request body as a JSON object, bounded in bytes, nesting and number size before parsing."""
    if len(body) > MAX_BODY_BYTES:
        raise TooLarge(f"body of {len(body)} bytes is over the limit of {MAX_BODY_BYTES} bytes")
    if body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH and json_depth(body) > MAX_JSON_DEPTH:
        raise InvalidParam("body", "nested too deeply", f"JSON may nest at most {MAX_JSON_DEPTH} levels")
    try:
        data = json.loads(body, parse_int=_bounded_number(int), parse_float=_bounded_number(float))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise InvalidParam("body", "not JSON", f"must be a JSON object ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidParam("body", type(data).__name__, "must be a JSON object")
    return data


def check_text(name: str, value: object, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise InvalidParam(name, type(value).__name__, "must be a string")
    if not allow_empty and not value.strip():
        raise InvalidParam(name, value, "must not be empty")
    if len(value) > MAX_PROMPT_CHARS:
        raise InvalidParam(name, f"{len(value)} characters", f"at most {MAX_PROMPT_CHARS} characters")
    if "\x00" in value:
        raise InvalidParam(name, "NUL", "must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidParam(name, "lone surrogate", "must be valid Unicode (a lone surrogate was sent)") from None
    return value


def _content(index: int, content: object) -> str:
    name = f"messages[{index}].content"
    if isinstance(content, list):  # [{"type": "text", "text": "..."}]
        parts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text":
                raise InvalidParam(name, part, "only text parts are supported")
            parts.append(check_text(name, part.get("text"), allow_empty=True))
        content = "".join(parts)
    return check_text(name, content, allow_empty=True)


def parse_messages(data: dict[str, Any]) -> tuple[Message, ...]:
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidParam("messages", messages, "must be a non-empty list of {role, content}")
    if len(messages) > 500:
        raise InvalidParam("messages", f"{len(messages)} messages", "at most 500 messages")
    out = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise InvalidParam(f"messages[{i}]", message, "must be an object with role and content")
        role = ROLE_ALIASES.get(message.get("role"), message.get("role"))  # type: ignore[arg-type]
        if role not in ROLES:
            raise InvalidParam(f"messages[{i}].role", role, f"must be one of {', '.join([*ROLES, *ROLE_ALIASES])}")
        out.append(Message(role, _content(i, message.get("content"))))  # type: ignore[arg-type]
    if not any(m.content.strip() for m in out):
        raise InvalidParam("messages", "empty", "at least one message must have text")
    return tuple(out)


def parse_params(data: dict[str, Any], default_max_tokens: int = 256) -> SamplingParams:
    """Sampling fields as SamplingParams (strict types: "0.7" is not a number), others checked."""
    known = SAMPLING_FIELDS | set(NEUTRAL) | set(FIELD_ALIASES) | set(PROTOCOL_FIELDS)
    known |= {"model", "messages", "prompt", "stream", "fabula"}
    for alias, name in FIELD_ALIASES.items():
        if alias in data and data[alias] is not None:
            if name in data and data[name] is not None and data[name] != data[alias]:
                raise InvalidParam(alias, data[alias], f"disagrees with {name}={data[name]!r}; send one of them")
            data = {**data, name: data[alias]}
    for key, value in data.items():
        if key not in known:
            raise InvalidParam(key, value, "is not supported by this server", hint="see /docs for the fields")
        allowed = NEUTRAL.get(key)
        if allowed is not None and value not in allowed:
            raise InvalidParam(key, value, f"is not supported here; leave it at {allowed[0]!r}")
    values = {k: data[k] for k in SAMPLING_FIELDS if k in data and data[k] is not None}
    extra = data.get("fabula")
    if isinstance(extra, dict) and extra.get("creativity") is not None:
        from fabula.decoding.creativity import preset

        try:
            values = {**preset(extra["creativity"]), **values}  # explicit sampler fields win, as on the CLI
        except InvalidParam as exc:
            raise InvalidParam("fabula.creativity", extra["creativity"], "must be a number from 0 to 1") from exc
    if isinstance(values.get("stop"), str):
        values["stop"] = [values["stop"]]
    if isinstance(values.get("stop"), list) and len(values["stop"]) > 16:
        raise InvalidParam("stop", f"{len(values['stop'])} strings", "at most 16 stop strings")
    values.setdefault("max_tokens", default_max_tokens)
    return SamplingParams(**values)


PROTOCOL_FIELDS = ("response_format", "stream_options", "logprobs", "top_logprobs", "logit_bias", "ignore_eos")
MAX_LOGIT_BIAS = 300  # entries, as OpenAI bounds them
MAX_TOP_LOGPROBS = {True: 20, False: 5}  # chat, completions (as OpenAI bounds them)


@dataclass(frozen=True)
class Protocol:
    """How the answer is to be shaped, beyond sampling: JSON under a schema, usage in a stream."""

    json_schema: dict[str, Any] | None = None  # from response_format json_object / json_schema
    include_usage: bool = False  # stream_options.include_usage: a last chunk with the usage
    top_logprobs: int | None = None  # None: no logprobs; else each token's and this many alternatives
    logit_bias: dict[int, float] | None = None  # token id -> bias, -100 to 100
    ignore_eos: bool = False  # llama.cpp's field: write max_tokens tokens, past the end of text


def _logit_bias(value: object) -> dict[int, float] | None:
    """OpenAI's {"token id": bias} with biases from -100 to 100."""
    if value is None or value == {}:
        return None
    if not isinstance(value, dict) or len(value) > MAX_LOGIT_BIAS:
        raise InvalidParam("logit_bias", value, f'an object of at most {MAX_LOGIT_BIAS} "token id": bias pairs')
    out = {}
    for token, bias in value.items():
        if (
            not str(token).isdigit()
            or isinstance(bias, bool)
            or not isinstance(bias, int | float)
            or not -100 <= bias <= 100
        ):
            raise InvalidParam(f"logit_bias.{token}", bias, "token ids are whole numbers, biases from -100 to 100")
        out[int(token)] = float(bias)
    return out


def _logprobs(data: dict[str, Any], chat: bool) -> int | None:
    """Chat: `logprobs: true` and `top_logprobs: 0..20`; completions: `logprobs: 0..5` (the count)."""
    wanted, top = data.get("logprobs"), data.get("top_logprobs")
    limit = MAX_TOP_LOGPROBS[chat]
    if chat:
        if wanted not in (None, True, False):
            raise InvalidParam("logprobs", wanted, "must be true or false")
        if top is not None and (isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= limit):
            raise InvalidParam("top_logprobs", top, f"a whole number from 0 to {limit}")
        if top and not wanted:
            raise InvalidParam("top_logprobs", top, "needs logprobs: true")
        return int(top or 0) if wanted else None
    if top is not None:
        raise InvalidParam("top_logprobs", top, "completions take the count as logprobs (0 to 5)")
    if wanted is None or wanted is False:
        return None
    if isinstance(wanted, bool) or not isinstance(wanted, int) or not 0 <= wanted <= limit:
        raise InvalidParam("logprobs", wanted, f"a whole number from 0 to {limit}")
    return int(wanted)


def parse_protocol(data: dict[str, Any], chat: bool = True) -> Protocol:
    """`response_format` ({"type": "text" | "json_object" | "json_schema"}), `stream_options` and
    `logprobs`/`top_logprobs`."""
    fmt = data.get("response_format")
    schema = None
    if fmt is not None:
        kind = fmt.get("type") if isinstance(fmt, dict) else None
        if kind == "json_object":
            schema = {"type": "object"}
        elif kind == "json_schema":
            spec = fmt.get("json_schema")
            if not isinstance(spec, dict) or not isinstance(spec.get("schema", {}), dict):
                raise InvalidParam("response_format.json_schema", spec, 'must be {"name", "schema": {...}}')
            schema = dict(spec.get("schema") or {"type": "object"})
        elif kind != "text":
            raise InvalidParam("response_format.type", kind, "must be text, json_object or json_schema")
    options = data.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise InvalidParam("stream_options", options, 'must be an object like {"include_usage": true}')
    include = (options or {}).get("include_usage", False)
    if not isinstance(include, bool):
        raise InvalidParam("stream_options.include_usage", include, "must be true or false")
    ignore_eos = data.get("ignore_eos", False)
    if not isinstance(ignore_eos, bool):
        raise InvalidParam("ignore_eos", ignore_eos, "must be true or false")
    return Protocol(schema, include, _logprobs(data, chat), _logit_bias(data.get("logit_bias")), ignore_eos)


@dataclass(frozen=True)
class FormRequest:
    """`fabula` extra body field: write a form through the pipeline instead of plain chat."""

    form: str
    inputs: dict[str, str] = field(default_factory=dict)
    user: str | None = None  # write in this user's voice (signed in: only one's own)


def parse_form(data: dict[str, Any], model: str) -> FormRequest | None:
    from fabula.forms import available

    forms = available()

    extra = data.get("fabula") or {}
    if not isinstance(extra, dict):
        raise InvalidParam("fabula", extra, 'must be an object like {"form": "poem", "inputs": {...}}')
    form = extra.get("form")
    if form is None and model.startswith("fabula-"):
        form = model.removeprefix("fabula-")
    if form is None:
        return None
    if form not in forms:
        raise InvalidParam("fabula.form" if "form" in extra else "model", form, f"forms: {', '.join(forms)}")
    inputs = extra.get("inputs") or {}
    if not isinstance(inputs, dict) or not all(isinstance(v, str) for v in inputs.values()):
        raise InvalidParam("fabula.inputs", inputs, "must be an object of strings")
    user = extra.get("user")
    if user is not None:
        user = check_text("fabula.user", user)[:64]
    return FormRequest(form, {str(k): check_text(f"fabula.inputs.{k}", v) for k, v in inputs.items()}, user)


# ---- request bodies for the OpenAPI spec ---------------------------------------------------------
# The routes read and check bodies themselves (to name every bad value in the OpenAI error shape);
# these schemas document the bodies in /openapi.json, so clients and fuzzers know what to send.


def sampling_schema(*names: str) -> dict[str, Any]:
    """JSON Schema properties of sampling controls, from their one declaration (`SamplingControls`):
    the published bounds are the enforced ones."""
    properties = SamplingControls.model_json_schema()["properties"]
    out = {}
    for name in names or tuple(SamplingControls.model_fields):
        prop = {k: v for k, v in properties[name].items() if k not in ("hint", "title")}
        if "anyOf" in prop:  # `int | None`: the API takes the number, or leaves it out
            prop = {**next(p for p in prop.pop("anyOf") if p.get("type") != "null"), **prop}
            prop.pop("default", None)
        if name == "stop":  # OpenAI clients send one string or a list
            prop = {"description": prop["description"], "oneOf": [{"type": "string"}, {**prop, "type": "array"}]}
            prop["oneOf"][1].pop("description", None)
            prop["oneOf"][1].pop("default", None)
        out[name] = prop
    return out


_SAMPLING_SCHEMA: dict[str, Any] = {
    "model": {"type": "string", "description": "a served model, or fabula-FORM (GET /v1/models)"},
    "stream": {"type": "boolean"},
    **sampling_schema(),
    "max_completion_tokens": {**sampling_schema("max_tokens")["max_tokens"], "description": "the same as max_tokens"},
    "repeat_penalty": {
        **sampling_schema("repetition_penalty")["repetition_penalty"],
        "description": "the same as repetition_penalty (llama.cpp's name)",
    },
    "response_format": {
        "type": "object",
        "description": "text, json_object, or json_schema {name, schema, strict}: decoded under the schema",
        "properties": {
            "type": {"type": "string", "enum": ["text", "json_object", "json_schema"]},
            "json_schema": {"type": "object"},
        },
        "required": ["type"],
    },
    "logprobs": {
        "oneOf": [{"type": "boolean"}, {"type": "integer", "minimum": 0, "maximum": 5}],
        "description": "chat: true for each token's log-probability; completions: how many alternatives (0-5)",
    },
    "top_logprobs": {"type": "integer", "minimum": 0, "maximum": 20, "description": "chat: alternatives per token"},
    "ignore_eos": {"type": "boolean", "description": "llama.cpp's field: go on past the end of text to max_tokens"},
    "logit_bias": {
        "type": "object",
        "additionalProperties": {"type": "number", "minimum": -100, "maximum": 100},
        "description": "token id -> bias added to its logit (-100 bans it, +100 all but forces it)",
    },
    "stream_options": {
        "type": "object",
        "properties": {"include_usage": {"type": "boolean"}},
        "description": "include_usage: a last chunk with empty choices and the usage",
    },
    "fabula": {
        "type": "object",
        "description": "write a form through the whole pipeline (checks, ranking, originality, a saved work)",
        "properties": {
            "form": {"type": "string"},
            "inputs": {"type": "object", "additionalProperties": {"type": "string"}},
            "creativity": {"type": "number", "minimum": 0, "maximum": 1},
            "user": {"type": "string", "description": "write in this user's voice (signed in: your own id)"},
        },
    },
}
CHAT_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["messages"],
    "properties": {
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["role", "content"],
                "properties": {
                    "role": {"type": "string", "enum": ["system", "developer", "user", "assistant"]},
                    "content": {"type": "string"},
                },
            },
        },
        **_SAMPLING_SCHEMA,
    },
}
COMPLETION_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["prompt"],
    "properties": {"prompt": {"type": "string"}, **_SAMPLING_SCHEMA},
}


def openapi_body(schema: dict[str, Any]) -> dict[str, Any]:
    """`openapi_extra` for a route that reads a JSON body of this shape."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def object_schema(required: list[str], **properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}
