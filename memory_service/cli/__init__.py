"""The memory-service command."""

import logging

import click
from pydantic import ValidationError

from memory_service.config import Settings


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log at INFO level.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """Emotion-aware memory backend for AI companion apps."""
    try:
        ctx.obj = Settings()
    except ValidationError as exc:
        raise click.ClickException(f"invalid configuration:\n{exc}") from exc
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s %(message)s")


@main.command()
@click.option("--host", default=None, help="Bind address (default: MEMORY_SERVICE_HOST or 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default: MEMORY_SERVICE_PORT or 8000).")
@click.pass_obj
def serve(settings: Settings, host: str | None, port: int | None) -> None:
    """Run the HTTP API."""
    import uvicorn

    from memory_service.api.app import create_app
    from memory_service.observability.logs import configure

    configure(logging.INFO, settings.log_format)
    # log_config=None: uvicorn's loggers go through the handler above; the app logs its own access lines.
    uvicorn.run(create_app(settings=settings), host=host or settings.host, port=port or settings.port,
                log_config=None, access_log=False)


@main.command()
@click.option("--revision", default="heads", show_default=True, help="Target revision.")
@click.pass_obj
def migrate(settings: Settings, revision: str) -> None:
    """Bring the database schema up to date."""
    from memory_service.db.database import Database
    from memory_service.db.migrate import upgrade

    with Database.from_settings(settings) as db:
        upgrade(db.engine, revision)
    click.echo(f"database at revision {revision}")


# Noun groups live in their own modules (memory_service/cli/<noun>.py) and are registered here.
from memory_service.cli.analytics import analytics  # noqa: E402
from memory_service.cli.bench import bench  # noqa: E402
from memory_service.cli.eval import eval_group  # noqa: E402
from memory_service.cli.events import events  # noqa: E402
from memory_service.cli.experiments import experiments  # noqa: E402
from memory_service.cli.keys import keys  # noqa: E402
from memory_service.cli.simulate import simulate  # noqa: E402
from memory_service.cli.train import train  # noqa: E402

for group in (analytics, bench, eval_group, events, experiments, keys, simulate, train):
    main.add_command(group)
