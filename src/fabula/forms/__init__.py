"""Creative forms by name. Each form is a module with a `build()` returning a Form."""

from __future__ import annotations

import importlib
from functools import cache

from fabula.errors import FormError
from fabula.forms.base import Form

FORMS = ("story", "poem", "lyrics", "quest", "npc", "social", "product", "summary")


@cache
def get_form(name: str) -> Form:
    if name not in FORMS:
        raise FormError(f"form {name!r} is unknown; available forms: {', '.join(FORMS)}")
    module = importlib.import_module(f"fabula.forms.{name}")
    return module.build()  # type: ignore[no-any-return]
