"""`fabula serve`: the HTTP API (OpenAI-compatible under /v1) on uvicorn."""

from __future__ import annotations

import click

from fabula.settings import get_settings


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
def serve(host: str, port: int) -> None:
    """Serve the OpenAI-compatible API (/v1/models, /v1/chat/completions, /v1/completions) and
    /docs. With no users configured it runs in local single-user mode: bind it to 127.0.0.1."""
    from fabula.errors import ConfigError

    try:
        import uvicorn

        from fabula.api.app import create_app
    except ImportError as exc:
        raise ConfigError("the server needs `pip install 'fabula[api]'`") from exc
    settings = get_settings()
    click.echo(f"fabula serving {settings.engine} on http://{host}:{port}/v1 (docs: /docs)", err=True)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
