"""Third-party engines, forms and exporters, registered through Python entry points.

A package declares, in its pyproject.toml:

    [project.entry-points."fabula.engines"]
    shout = "my_package:ShoutBackend"          # a Backend class: (model, settings) -> engine
    [project.entry-points."fabula.forms"]
    fortune = "my_package:build_fortune"       # a callable returning a forms.base.Form
    [project.entry-points."fabula.exporters"]
    html = "my_package:HTML_EXPORT"            # an object with suffix, forms (names or "*") and render(text)

Entry points are listed without importing anything (`fabula plugins`), and a plugin's module is
imported only when its engine, form or exporter is first used, so a broken or slow plugin costs
nothing until then, and then fails with a message naming it. Forms can also be written without
code: a template TOML in FABULA_HOME/forms/NAME.toml (the layout of fabula's own templates) is the
form NAME, with the built-in checks its [checks] table names.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from fabula.errors import ConfigError

GROUPS = {"engines": "fabula.engines", "forms": "fabula.forms", "exporters": "fabula.exporters"}


@dataclass(frozen=True)
class Plugin:
    kind: str  # engines | forms | exporters
    name: str
    target: str  # "module:attribute"
    distribution: str


@cache
def _entries(group: str) -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=group)}


def refresh() -> None:
    """Forget what was discovered (after installing a plugin into a running process)."""
    _entries.cache_clear()


def names(kind: str) -> tuple[str, ...]:
    return tuple(sorted(_entries(GROUPS[kind])))


def listed() -> list[Plugin]:
    out = []
    for kind, group in GROUPS.items():
        for name, ep in sorted(_entries(group).items()):
            dist = ep.dist.name if ep.dist is not None else "?"
            out.append(Plugin(kind, name, ep.value, dist))
    return out


def load(kind: str, name: str) -> Any:
    """The object a plugin registered, imported now; a failure names the plugin and its package."""
    ep = _entries(GROUPS[kind]).get(name)
    if ep is None:
        raise ConfigError(f"no {kind[:-1]} plugin named {name!r}; `fabula plugins` lists what is installed")
    try:
        return ep.load()
    except Exception as exc:  # noqa: BLE001 - any failure inside third-party code
        dist = ep.dist.name if ep.dist is not None else "its package"
        raise ConfigError(f"the {kind[:-1]} plugin {name!r} ({ep.value}, from {dist}) failed to load: {exc}") from exc
