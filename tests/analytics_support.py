"""Fresh migrated databases and hand-made events for the analytics tests."""

import uuid
from datetime import datetime

from sqlalchemy import Engine, text

from memory_service.db.migrate import scratch_database as migrated_database  # noqa: F401  (tests import it here)


def add_events(engine: Engine, rows: list[tuple[uuid.UUID, str, datetime]]) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO events (user_id, name, occurred_at) VALUES (:u, :n, :t)"),
            [{"u": u, "n": n, "t": t} for u, n, t in rows],
        )


def add_users(engine: Engine, ids: list[uuid.UUID]) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (id) VALUES (:id)"), [{"id": i} for i in ids])
