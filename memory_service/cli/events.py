"""`memory-service events ...`: product events."""

from pathlib import Path

import click

from memory_service.config import Settings


@click.group()
def events() -> None:
    """Product events (the input of retention analytics)."""


@events.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_obj
def import_(settings: Settings, file: Path) -> None:
    """Import FILE.csv (user_id,event,timestamp[,properties]); all or nothing, re-imports add nothing."""
    from memory_service.db.database import Database
    from memory_service.event_import import ImportFileError, import_events

    try:
        with Database.from_settings(settings) as db, db.transaction() as session:
            result = import_events(session, file)
    except ImportFileError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{file}: {result.rows} rows, {result.added} added, {result.skipped} already present")
