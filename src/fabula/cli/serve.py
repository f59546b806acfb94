"""`fabula serve`: the HTTP API (OpenAI-compatible under /v1) on uvicorn."""

from __future__ import annotations

import click

from fabula.cli.render import notice
from fabula.settings import get_settings


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
def serve(host: str, port: int) -> None:
    """Serve the OpenAI-compatible API (/v1/models, /v1/chat/completions, /v1/completions) and
    /docs. With no users configured it runs in local single-user mode: bind it to 127.0.0.1."""
    from fabula.errors import ConfigError

    try:
        import fastapi  # noqa: F401 - only to say what is missing, before uvicorn does
        import uvicorn
    except ImportError as exc:
        raise ConfigError("the server needs `pip install 'fabula[api]'`") from exc
    settings = get_settings()
    notice(f"fabula serving {settings.engine} on http://{host}:{port}/v1 (docs: /docs)")
    named = {h.strip().lower() for h in settings.api_allowed_hosts.split(",") if h.strip()}
    if host not in ("127.0.0.1", "localhost", "::1") and not named:
        click.echo(
            f"note: only loopback Host names are answered; set FABULA_API_ALLOWED_HOSTS to the names clients "
            f"use to reach {host} (DNS rebinding protection)",
            err=True,
        )
    # the surface names the app factory; uvicorn builds it from the same settings (the environment)
    uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)


APP_FACTORY = "fabula.api.app:create_app"
