"""Engine registry: names map to import paths, imported and built only when first asked for.

A loaded engine is cached per (engine, model, settings) key, so a model is loaded once per process
and stays warm across requests.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from fabula.errors import ConfigError

if TYPE_CHECKING:
    from fabula.backends.base import Backend
    from fabula.settings import Settings

ENGINES: dict[str, str] = {
    "llamacpp": "fabula.backends.llamacpp:LlamaCppBackend",
    "hf": "fabula.backends.hf:HFBackend",
    "gpt": "fabula.backends.gpt:GPTBackend",
    "openai": "fabula.backends.openai_compat:OpenAIBackend",
    "fake": "fabula.backends.fake:FakeBackend",
}

LOG = logging.getLogger(__name__)
_cache: dict[tuple[str, str, str], Backend] = {}
_lock = threading.Lock()


def engine_class(name: str) -> Callable[..., Backend]:
    """A built-in engine by name, or one a plugin registered under `fabula.engines`."""
    if name not in ENGINES:
        from fabula.plugins import load, names

        if name in names("engines"):
            return load("engines", name)  # type: ignore[no-any-return]
        known = [*ENGINES, *names("engines")]
        raise ConfigError(f"engine {name!r} is unknown; choose one of: {', '.join(known)}")
    module_name, _, attr = ENGINES[name].partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr)  # type: ignore[no-any-return]


def get_backend(name: str, model: str, settings: Settings) -> Backend:
    """The engine `name` with `model` loaded (cached: a model is loaded once per process)."""
    key = (name, model, settings.model_dump_json())
    with _lock:
        backend = _cache.get(key)
        if backend is None:
            start = time.perf_counter()
            backend = engine_class(name)(model=model, settings=settings)
            _cache[key] = backend
            LOG.info("loaded the %s engine with %s in %.2f s", name, backend.model_name, time.perf_counter() - start)
        return backend


def close_all(engine: str | None = None) -> None:
    """Close and forget the cached engines (only those named `engine`, when given)."""
    with _lock:
        for key in [k for k in _cache if engine is None or k[0] == engine]:
            _cache.pop(key).close()
