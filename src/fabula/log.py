"""fabula's log: what a command is doing, on stderr, as loud as the user asked.

Every module logs to a child of the `fabula` logger (`logging.getLogger(__name__)`); nothing is
printed until a surface configures it. `fabula -v` shows the steps (engine and model loaded, model
file checked, work saved, files written), `-vv` the details, `-q` nothing but errors: progress bars
and notices are silenced too, so a script gets only its result on stdout.
"""

from __future__ import annotations

import logging
import sys

LOGGER = logging.getLogger("fabula")
_quiet = False


def configure(verbose: int = 0, quiet: bool = False) -> None:
    """Set the level (-q: errors; default: warnings; -v: steps; -vv: details) and a stderr handler."""
    global _quiet
    _quiet = quiet
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    LOGGER.setLevel(level)
    if not any(getattr(h, "fabula", False) for h in LOGGER.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("fabula: %(levelname)s: %(message)s"))
        handler.fabula = True  # type: ignore[attr-defined]
        LOGGER.addHandler(handler)
    LOGGER.propagate = False


def quiet() -> bool:
    """True after `fabula -q`: progress bars and notices stay silent."""
    return _quiet
