"""Alembic owns the schema: upgrade, downgrade, upgrade again, and models that match it exactly."""

import os
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import Column, Integer, MetaData, create_engine, inspect, text

from memory_service.cli import main
from memory_service.db.migrate import REPO_ROOT, downgrade, upgrade
from memory_service.db.models import PARTITION_TABLES, Base, include_object

TABLES = {
    "users", "conversations", "messages", "memories", "events", "experiment_assignments",
    "user_activity", "user_activity_days",
    "router_calls",
    "apps", "api_keys", "idempotent_responses",
} | PARTITION_TABLES


def _state(url: str) -> tuple[set[str], bool]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names()) - {"alembic_version"}
            has_vector = conn.execute(text("SELECT count(*) FROM pg_extension WHERE extname = 'vector'")).scalar() == 1
        return tables, has_vector
    finally:
        engine.dispose()


def _diff(engine, metadata: MetaData) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"include_object": include_object}), metadata)


def test_upgrade_downgrade_upgrade(scratch_db_url: str) -> None:
    engine = create_engine(scratch_db_url)
    try:
        upgrade(engine)
        assert _state(scratch_db_url) == (TABLES, True)
        with engine.connect() as conn:
            dim = conn.execute(
                text("SELECT atttypmod FROM pg_attribute WHERE attrelid = 'memories'::regclass AND attname = 'embedding'")
            ).scalar()
        assert dim == 384

        downgrade(engine)
        assert _state(scratch_db_url) == (set(), False)

        upgrade(engine)
        assert _state(scratch_db_url) == (TABLES, True)
        assert _diff(engine, Base.metadata) == []
    finally:
        engine.dispose()


def test_autogenerate_finds_no_difference_and_would_notice_one(runtime) -> None:
    assert _diff(runtime.db.engine, Base.metadata) == []

    # The same comparison must flag a model that drifts from the migrations.
    drifted = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["memories"].append_column(Column("not_in_migrations", Integer))
    diff = _diff(runtime.db.engine, drifted)
    assert [(d[0], d[3].name) for d in diff] == [("add_column", "not_in_migrations")]


def test_alembic_command_line_reads_database_url(scratch_db_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": scratch_db_url}
    alembic = Path(sys.executable).parent / "alembic"
    for args, expected in ((["upgrade", "head"], TABLES), (["downgrade", "base"], set())):
        done = subprocess.run([str(alembic), *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert _state(scratch_db_url)[0] == expected


def test_migrate_command(scratch_db_url: str) -> None:
    result = CliRunner().invoke(main, ["migrate"], env={"DATABASE_URL": scratch_db_url})
    assert result.exit_code == 0, result.output
    assert _state(scratch_db_url) == (TABLES, True)
