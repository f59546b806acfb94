"""Creative forms by name. Each built-in form is a module with a `build()` returning a Form; plugins
add forms through the `fabula.forms` entry point, and template TOMLs in FABULA_HOME/forms add them
without code (see fabula.plugins)."""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path

from fabula.errors import FormError
from fabula.forms.base import Form

FORMS = ("story", "poem", "lyrics", "quest", "npc", "social", "product", "summary")  # the built-in ones


def user_forms() -> dict[str, Path]:
    """Template forms in FABULA_HOME/forms/*.toml, by name (the file's stem)."""
    from fabula.settings import get_settings

    folder = get_settings().home / "forms"
    return {p.stem: p for p in sorted(folder.glob("*.toml"))} if folder.is_dir() else {}


def available() -> tuple[str, ...]:
    """Every form that can be written: built-in, from plugins, and from FABULA_HOME/forms."""
    from fabula.plugins import names

    extra = [n for n in (*names("forms"), *user_forms()) if n not in FORMS]
    return (*FORMS, *dict.fromkeys(extra))


@cache
def _builtin(name: str) -> Form:
    module = importlib.import_module(f"fabula.forms.{name}")
    return module.build()  # type: ignore[no-any-return]


def get_form(name: str) -> Form:
    if name in FORMS:
        return _builtin(name)
    from fabula.plugins import load, names

    if name in names("forms"):
        built = load("forms", name)
        form = built() if callable(built) else built
        if not isinstance(form, Form):
            raise FormError(f"the form plugin {name!r} gave {type(form).__name__}, not a Form")
        return form
    templates = user_forms()
    if name in templates:
        from fabula.forms.base import load_form_file

        return load_form_file(templates[name], name)
    raise FormError(f"form {name!r} is unknown; available forms: {', '.join(available())}")
