"""Configuration: DATABASE_URL spellings, packaged model paths, and clear errors."""

import pytest
from click.testing import CliRunner

from memory_service.cli import main
from memory_service.config import Settings
from memory_service.db.database import psycopg_url


def test_database_url_is_read_without_prefix(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db:5432/app")
    monkeypatch.setenv("MEMORY_SERVICE_HISTORY_MESSAGES", "7")
    settings = Settings()
    assert settings.database_url == "postgresql://u:p@db:5432/app"
    assert settings.history_messages == 7


def test_packaged_models_are_found() -> None:
    settings = Settings()
    assert settings.llm_model_path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and settings.llm_model_path.is_file()
    assert (settings.embedding_model_path / "model.safetensors").is_file()


@pytest.mark.parametrize(
    "url",
    ["postgres://u:p@h/db", "postgresql://u:p@h/db", "postgresql+psycopg2://u:p@h/db"],
)
def test_urls_use_psycopg3(url: str) -> None:
    assert psycopg_url(url) == "postgresql+psycopg://u:p@h/db"


def test_non_postgres_url_is_refused() -> None:
    with pytest.raises(ValueError, match="PostgreSQL"):
        psycopg_url("sqlite:///x.db")


def test_cli_reports_invalid_configuration() -> None:
    result = CliRunner().invoke(main, ["migrate"], env={"MEMORY_SERVICE_HISTORY_MESSAGES": "-1"})
    assert result.exit_code == 1
    assert "invalid configuration" in result.output and "history_messages" in result.output
