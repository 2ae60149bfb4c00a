"""`memory-service keys`: create, revoke and list apps' API keys."""

import uuid

import click

from memory_service.config import Settings
from memory_service.db.database import Database
from memory_service.errors import NotFound
from memory_service.keys import create_key, list_keys, revoke_key


@click.group()
def keys() -> None:
    """API keys of apps (tenants)."""


@keys.command()
@click.option("--app", "app_name", required=True, help="The app (tenant); created on its first key.")
@click.pass_obj
def create(settings: Settings, app_name: str) -> None:
    """Create a key; it is printed once and only its hash is stored."""
    with Database.from_settings(settings) as db, db.transaction(scope=None) as session:
        try:
            new = create_key(session, app_name)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"app {new.app_name} ({new.app_id})\nkey id {new.id}\n{new.key}")


@keys.command()
@click.argument("key_id")
@click.pass_obj
def revoke(settings: Settings, key_id: str) -> None:
    """Revoke a key by its id (see `keys list`); requests with it answer 401 from then on."""
    try:
        parsed = uuid.UUID(key_id)
    except ValueError:
        raise click.ClickException(f"KEY_ID must be a key's UUID (see `keys list`), got {key_id!r}") from None
    try:
        with Database.from_settings(settings) as db, db.transaction(scope=None) as session:
            row = revoke_key(session, parsed)
            click.echo(f"revoked {row.id} ({row.prefix}…) at {row.revoked_at:%Y-%m-%d %H:%M:%S}")
    except NotFound as exc:
        raise click.ClickException(str(exc)) from exc


@keys.command(name="list")
@click.option("--app", "app_name", default=None, help="Only this app's keys.")
@click.pass_obj
def list_(settings: Settings, app_name: str | None) -> None:
    """List keys: id, app, prefix, created, revoked."""
    with Database.from_settings(settings) as db, db.transaction(scope=None) as session:
        rows = list_keys(session, app_name)
        for key, name in rows:
            revoked = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
            click.echo(f"{key.id}  {name}  {key.prefix}…  created {key.created_at:%Y-%m-%d %H:%M}  {revoked}")
    if not rows:
        click.echo("no keys" + (f" for app {app_name!r}" if app_name else ""))
