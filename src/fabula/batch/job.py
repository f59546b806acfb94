"""A batch job file: what to write, where the results go, and which engines to use.

```yaml
name: spring-campaign            # names the job (idempotency keys in the store); default: the file's name
output: results.jsonl            # one line per request: id, status, text, ... (relative to this file)
store: false                     # also save every work in the store (a Ray cluster needs PostgreSQL)
defaults: {form: social, params: {max_tokens: 80}}
endpoints:                       # OpenAI-compatible servers (vLLM, llama.cpp); none: the local engine
  - {url: http://10.0.0.5:8000/v1, model: smollm2, concurrency: 4}
retries: 4                       # attempts on other endpoints after a retryable failure
requests:                        # a list, or a file: requests: prompts.jsonl / prompts.parquet
  - {id: ana-1, form: social, prompt: "our new rye sourdough", inputs: {platform: x}, user: ana}
```

Everything is checked before any work starts, and an error names the request and the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fabula.errors import ConfigError, InvalidParam

ITEM_FIELDS = {"id", "form", "prompt", "inputs", "user", "params"}
JOB_FIELDS = {"name", "output", "store", "defaults", "endpoints", "retries", "requests"}
ENDPOINT_FIELDS = {"url", "model", "api_key", "concurrency", "dialect"}


@dataclass(frozen=True)
class Endpoint:
    url: str
    model: str = "default"
    api_key: str = ""
    concurrency: int = 1
    dialect: str = "llamacpp"


@dataclass(frozen=True)
class BatchItem:
    id: str
    form: str
    prompt: str | None
    inputs: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "form": self.form,
            "prompt": self.prompt,
            "inputs": self.inputs,
            "user": self.user,
            "params": self.params,
        }


@dataclass(frozen=True)
class BatchJob:
    name: str
    items: tuple[BatchItem, ...]
    output: Path
    endpoints: tuple[Endpoint, ...] = ()
    store: bool = False
    retries: int = 4


def load_job(path: Path) -> BatchJob:
    import yaml

    if not path.is_file():
        raise ConfigError(f"job file {path} not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a job is a mapping with `requests:` and `output:`")
    return parse_job(data, path.parent, default_name=path.stem)


def parse_job(data: dict[str, Any], base: Path, default_name: str = "batch") -> BatchJob:
    unknown = sorted(set(data) - JOB_FIELDS)
    if unknown:
        raise InvalidParam(unknown[0], data[unknown[0]], f"a job has: {', '.join(sorted(JOB_FIELDS))}")
    if "output" not in data or not isinstance(data["output"], str) or not data["output"].strip():
        raise InvalidParam("output", data.get("output"), "name the JSONL file the results go to")
    output = (base / data["output"]).resolve()
    if output.suffix != ".jsonl":
        raise InvalidParam("output", data["output"], "results are JSON Lines: use a .jsonl file")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict) or set(defaults) - ITEM_FIELDS:
        raise InvalidParam("defaults", defaults, f"defaults may set: {', '.join(sorted(ITEM_FIELDS - {'id'}))}")
    raw = data.get("requests")
    if isinstance(raw, str):
        raw = read_requests(base / raw)
    if not isinstance(raw, list) or not raw:
        raise InvalidParam("requests", raw, "a non-empty list of {form, prompt, params}, or a .jsonl/.parquet file")
    items = tuple(_item(i, r, defaults) for i, r in enumerate(raw))
    seen: set[str] = set()
    for index, item in enumerate(items):
        if item.id in seen:
            raise InvalidParam(f"requests[{index}].id", item.id, "ids must be unique in a job")
        seen.add(item.id)
    endpoints = tuple(_endpoint(i, e) for i, e in enumerate(data.get("endpoints") or []))
    retries = data.get("retries", 4)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 100:
        raise InvalidParam("retries", retries, "a whole number from 0 to 100")
    store = data.get("store", False)
    if not isinstance(store, bool):
        raise InvalidParam("store", store, "true or false")
    name = data.get("name", default_name)
    if not isinstance(name, str) or not name.strip():
        raise InvalidParam("name", name, "a name for the job")
    return BatchJob(name, items, output, endpoints, store, retries)


def read_requests(path: Path) -> list[Any]:
    """Requests from a JSON Lines or Parquet file (one request per line or row)."""
    if not path.is_file():
        raise InvalidParam("requests", str(path), "the requests file does not exist")
    if path.suffix == ".jsonl":
        rows = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise InvalidParam("requests", f"{path.name}:{number}", f"is not JSON ({exc.msg})") from None
        return rows
    if path.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise ConfigError("reading Parquet needs pyarrow: pip install 'fabula[batch]'") from None
        return [{k: v for k, v in row.items() if v is not None} for row in pq.read_table(path).to_pylist()]
    raise InvalidParam("requests", str(path), "a requests file is .jsonl or .parquet")


def _item(index: int, raw: Any, defaults: dict[str, Any]) -> BatchItem:
    where = f"requests[{index}]"
    if isinstance(raw, str):
        raw = {"prompt": raw}
    if not isinstance(raw, dict):
        raise InvalidParam(where, raw, "a request is a mapping like {form, prompt, params}")
    unknown = sorted(set(raw) - ITEM_FIELDS)
    if unknown:
        raise InvalidParam(f"{where}.{unknown[0]}", raw[unknown[0]], f"a request has: {', '.join(sorted(ITEM_FIELDS))}")
    merged = {**defaults, **raw}
    merged["params"] = {**(defaults.get("params") or {}), **(raw.get("params") or {})}
    merged["inputs"] = {**(defaults.get("inputs") or {}), **(raw.get("inputs") or {})}
    from fabula.forms import FORMS
    from fabula.sampling import SamplingParams

    form = merged.get("form")
    if form not in FORMS:
        raise InvalidParam(f"{where}.form", form, f"forms: {', '.join(FORMS)}")
    prompt = merged.get("prompt")
    if prompt is not None and (not isinstance(prompt, str) or not prompt.strip()):
        raise InvalidParam(f"{where}.prompt", prompt, "a non-empty string (or leave it out for the form's default)")
    inputs = merged["inputs"]
    if not all(isinstance(v, (str, int, float)) for v in inputs.values()):
        raise InvalidParam(f"{where}.inputs", inputs, "a mapping of names to strings")
    params = merged["params"]
    if not isinstance(params, dict):
        raise InvalidParam(f"{where}.params", params, "a mapping like {temperature: 0.8, max_tokens: 120}")
    try:
        SamplingParams.from_mapping(params)  # checked now, used by the worker
    except InvalidParam as exc:
        raise InvalidParam(f"{where}.params.{exc.name}", exc.value, str(exc)) from None
    user = merged.get("user")
    if user is not None and not isinstance(user, str):
        raise InvalidParam(f"{where}.user", user, "a user id")
    item_id = str(merged.get("id", f"r{index:06d}"))
    return BatchItem(item_id, form, prompt, {k: str(v) for k, v in inputs.items()}, user, params)


def _endpoint(index: int, raw: Any) -> Endpoint:
    where = f"endpoints[{index}]"
    if isinstance(raw, str):
        raw = {"url": raw}
    if not isinstance(raw, dict) or "url" not in raw:
        raise InvalidParam(where, raw, "an endpoint is {url, model, concurrency}")
    unknown = sorted(set(raw) - ENDPOINT_FIELDS)
    if unknown:
        raise InvalidParam(
            f"{where}.{unknown[0]}", raw[unknown[0]], f"an endpoint has: {', '.join(sorted(ENDPOINT_FIELDS))}"
        )
    url = raw["url"]
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise InvalidParam(f"{where}.url", url, "an http(s) URL ending in /v1")
    concurrency = raw.get("concurrency", 1)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 1 <= concurrency <= 256:
        raise InvalidParam(f"{where}.concurrency", concurrency, "a whole number from 1 to 256")
    dialect = raw.get("dialect", "llamacpp")
    if dialect not in ("llamacpp", "vllm", "openai"):
        raise InvalidParam(f"{where}.dialect", dialect, "llamacpp, vllm or openai")
    return Endpoint(
        url.rstrip("/"), str(raw.get("model", "default")), str(raw.get("api_key", "")), concurrency, dialect
    )
