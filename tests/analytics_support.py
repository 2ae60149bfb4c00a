"""Fresh migrated databases and hand-made events for the analytics tests."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from memory_service.db.migrate import upgrade


@contextmanager
def migrated_database(server_url: str) -> Iterator[tuple[str, Engine]]:
    """A new database on the test server, at the latest schema; dropped afterwards."""
    name = f"analytics_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    try:
        upgrade(engine)
        yield url, engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def add_events(engine: Engine, rows: list[tuple[uuid.UUID, str, datetime]]) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO events (user_id, name, occurred_at) VALUES (:u, :n, :t)"),
            [{"u": u, "n": n, "t": t} for u, n, t in rows],
        )


def add_users(engine: Engine, ids: list[uuid.UUID]) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (id) VALUES (:id)"), [{"id": i} for i in ids])
