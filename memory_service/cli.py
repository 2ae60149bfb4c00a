"""The memory-service command."""

import logging

import click

from memory_service.config import get_settings


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log at INFO level.")
def main(verbose: bool) -> None:
    """Emotion-aware memory backend for AI companion apps."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s %(message)s")


@main.command()
@click.option("--host", default=None, help="Bind address (default: MEMORY_SERVICE_HOST or 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default: MEMORY_SERVICE_PORT or 8000).")
def serve(host: str | None, port: int | None) -> None:
    """Run the HTTP API."""
    import uvicorn

    from memory_service.api.app import create_app

    settings = get_settings()
    uvicorn.run(create_app(settings=settings), host=host or settings.host, port=port or settings.port)


@main.command()
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def migrate(revision: str) -> None:
    """Bring the database schema up to date."""
    from memory_service.db.database import Database
    from memory_service.db.migrate import upgrade

    db = Database.from_settings(get_settings())
    try:
        upgrade(db.engine, revision)
    finally:
        db.close()
    click.echo(f"database at revision {revision}")
