"""Parsing and validating API request bodies into fabula's own types, naming every bad value.

FastAPI's pydantic models would answer 422 in their own format; OpenAI clients expect 400 with
`{"error": {"message", "type", "param"}}`, so bodies are read as JSON and checked here, with the
same rules (`SamplingParams`) the CLI uses. Text fields must be real text: lone surrogates and NUL
characters are refused by name; right-to-left scripts and emoji are text like any other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fabula.errors import InvalidParam
from fabula.sampling import SamplingParams
from fabula.types import Message

MAX_BODY_BYTES = 4 * 1024 * 1024  # a 10 MB body is refused before it is parsed
MAX_PROMPT_CHARS = 200_000
ROLES = ("system", "user", "assistant")
# OpenAI fields that change nothing here when left at these values; anything else is refused
NEUTRAL: dict[str, tuple[Any, ...] | None] = {
    "logprobs": (False, None),
    "top_logprobs": (None, 0),
    "logit_bias": (None, {}),
    "response_format": (None, {"type": "text"}),
    "stream_options": None,  # any value: usage is always included in the last chunk
    "user": None,
    "echo": (False, None),
    "best_of": (None, 1),
    "suffix": (None, ""),
    "tool_choice": (None, "none"),
    "tools": (None, []),
    "parallel_tool_calls": None,
}
SAMPLING_FIELDS = {
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "typical_p",
    "repetition_penalty",
    "presence_penalty",
    "frequency_penalty",
    "stop",
    "seed",
    "n",
}


def parse_json(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_BODY_BYTES:
        raise InvalidParam("body", f"{len(body)} bytes", f"at most {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
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
        role = message.get("role")
        if role not in ROLES:
            raise InvalidParam(f"messages[{i}].role", role, f"must be one of {', '.join(ROLES)}")
        out.append(Message(role, _content(i, message.get("content"))))
    if not any(m.content.strip() for m in out):
        raise InvalidParam("messages", "empty", "at least one message must have text")
    return tuple(out)


def parse_params(data: dict[str, Any], default_max_tokens: int = 256) -> SamplingParams:
    """Sampling fields as SamplingParams (strict types: "0.7" is not a number), others checked."""
    known = SAMPLING_FIELDS | set(NEUTRAL) | {"model", "messages", "prompt", "stream", "fabula"}
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


@dataclass(frozen=True)
class FormRequest:
    """`fabula` extra body field: write a form through the pipeline instead of plain chat."""

    form: str
    inputs: dict[str, str] = field(default_factory=dict)


def parse_form(data: dict[str, Any], model: str) -> FormRequest | None:
    from fabula.forms import FORMS

    extra = data.get("fabula") or {}
    if not isinstance(extra, dict):
        raise InvalidParam("fabula", extra, 'must be an object like {"form": "poem", "inputs": {...}}')
    form = extra.get("form")
    if form is None and model.startswith("fabula-"):
        form = model.removeprefix("fabula-")
    if form is None:
        return None
    if form not in FORMS:
        raise InvalidParam("fabula.form" if "form" in extra else "model", form, f"forms: {', '.join(FORMS)}")
    inputs = extra.get("inputs") or {}
    if not isinstance(inputs, dict) or not all(isinstance(v, str) for v in inputs.values()):
        raise InvalidParam("fabula.inputs", inputs, "must be an object of strings")
    return FormRequest(form, {str(k): check_text(f"fabula.inputs.{k}", v) for k, v in inputs.items()})


# ---- request bodies for the OpenAPI spec ---------------------------------------------------------
# The routes read and check bodies themselves (to name every bad value in the OpenAI error shape);
# these schemas document the bodies in /openapi.json, so clients and fuzzers know what to send.

_SAMPLING_SCHEMA: dict[str, Any] = {
    "model": {"type": "string", "description": "a served model, or fabula-FORM (GET /v1/models)"},
    "temperature": {"type": "number", "minimum": 0, "maximum": 2},
    "top_p": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
    "max_tokens": {"type": "integer", "minimum": 1},
    "n": {"type": "integer", "minimum": 1},
    "seed": {"type": "integer", "minimum": 0},
    "stream": {"type": "boolean"},
    "stop": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "maxItems": 16}]},
    "fabula": {
        "type": "object",
        "description": "write a form through the whole pipeline (checks, ranking, originality, a saved work)",
        "properties": {
            "form": {"type": "string"},
            "inputs": {"type": "object", "additionalProperties": {"type": "string"}},
            "creativity": {"type": "number", "minimum": 0, "maximum": 1},
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
                    "role": {"type": "string", "enum": ["system", "user", "assistant"]},
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
