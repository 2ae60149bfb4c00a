"""Alembic environment: reads the service's own Settings, so `alembic upgrade head` and
`memory-service migrate` hit the same database (the embedded one when DATABASE_URL is unset)."""

from logging.config import fileConfig

from alembic import context

from memory_service.db.models import Base, include_object

config = context.config
if config.config_file_name is not None and not config.attributes.get("engine"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    database = None
    if engine is None:
        from memory_service.config import get_settings
        from memory_service.db.database import Database

        database = Database.from_settings(get_settings())
        engine = database.engine
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=target_metadata, include_object=include_object)
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
    finally:
        if database is not None:
            database.close()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_migrations_online()
