"""The one error hierarchy every layer raises, so surfaces can turn any failure into a clear message.

Each error says what was wrong and how to fix it. `BackendError.retryable` tells callers (the CLI's
retry loop, batch jobs, the HTTP API) whether trying again can help.
"""

from __future__ import annotations


class FabulaError(Exception):
    """Base class: anything fabula raises on purpose."""


class ConfigError(FabulaError):
    """A setting, a model path or an installation step is missing or wrong."""


class InvalidParam(FabulaError, ValueError):
    """A parameter value is out of range or of the wrong type; the message names it."""

    def __init__(self, name: str, value: object, allowed: str, hint: str = "") -> None:
        self.name = name
        self.value = value
        self.allowed = allowed
        message = f"{name}={value!r} is not allowed: {allowed}"
        if hint:
            message += f" ({hint})"
        super().__init__(message)


class BackendError(FabulaError):
    """An engine failed; `retryable` says whether the same call may succeed later."""

    def __init__(self, message: str, *, retryable: bool = False, engine: str = "") -> None:
        self.retryable = retryable
        self.engine = engine
        prefix = f"[{engine}] " if engine else ""
        super().__init__(prefix + message)


class FormError(FabulaError):
    """A creative form was asked for with missing or bad inputs, or its template is broken.
    `input` names the form input at fault, where one is."""

    def __init__(self, message: str, input: str | None = None) -> None:  # noqa: A002 - the form's word
        self.input = input
        super().__init__(message)


class Rejected(FabulaError):
    """Every candidate failed post-processing; the verdicts say why."""

    def __init__(self, message: str, verdicts: list[list[dict[str, object]]] | None = None) -> None:
        self.verdicts = verdicts or []
        super().__init__(message)


class ExportError(FabulaError):
    """A file to export failed its own format's check when read back; nothing was written."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message + (f" ({hint})" if hint else ""))


class NotFound(FabulaError):
    """A stored work (or other record) with that id does not exist."""


class Unauthorized(FabulaError):
    """No credentials, or credentials nobody has (an unknown, expired or revoked key)."""


class Forbidden(FabulaError):
    """The caller is known but may not do this (another site's page, another user's record)."""


class TooLarge(FabulaError):
    """A body, a file or a configuration is over a stated bound."""


class Conflict(FabulaError):
    """The record is busy or in a state that forbids the change (a plan a job is writing)."""


class KeyReused(FabulaError):
    """An idempotency key sent again with a different request: the first request's work is kept,
    and this one is refused rather than answered with a work it did not ask for."""


class Busy(FabulaError):
    """Too much is running or waiting; `retry_after` says when to try again, in seconds."""

    def __init__(self, message: str, retry_after: int = 1) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class OutOfSpace(FabulaError):
    """The disk is full: nothing was kept, temporary files were removed."""
