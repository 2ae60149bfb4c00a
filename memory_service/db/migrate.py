"""Run the Alembic migrations from code (`memory-service migrate`, app start-up in tests)."""

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from memory_service.config import REPO_ROOT


def alembic_config(engine: Engine | None = None) -> Config:
    """Config for migrations/; with an engine, env.py uses it instead of resolving settings."""
    ini = REPO_ROOT / "alembic.ini"
    if not ini.exists():
        raise FileNotFoundError(f"alembic.ini not found at {ini}; run from a source checkout")
    config = Config(str(ini))
    config.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "heads") -> None:
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    command.downgrade(alembic_config(engine), revision)
