"""One embedded Postgres, one embedder and one GGUF model for the whole test session."""

import os
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from memory_service.api.app import create_app
from memory_service.config import Settings
from memory_service.db.migrate import upgrade
from memory_service.keys import NewKey, create_key
from memory_service.runtime import Runtime, build_runtime


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    # DATABASE_URL set: use that server; unset: an embedded one in a temporary directory.
    return Settings(
        pg_data_dir=tmp_path_factory.mktemp("pg") / "data",
        llm_max_tokens=24,
        llm_temperature=0.0,
        max_message_chars=500,
        admin_key="test-admin-key",
    )


@pytest.fixture(scope="session")
def runtime(settings: Settings) -> Iterator[Runtime]:
    runtime = build_runtime(settings)
    upgrade(runtime.db.engine)
    yield runtime
    runtime.close()


@pytest.fixture(scope="session")
def test_app_key(runtime: Runtime) -> NewKey:
    """A key of the app "tests", which owns every user the shared client creates."""
    with runtime.db.transaction() as session:
        return create_key(session, "tests")


@pytest.fixture(scope="session")
def api_key(test_app_key: NewKey) -> str:
    return test_app_key.key


@pytest.fixture(scope="session")
def app_id(test_app_key: NewKey) -> uuid.UUID:
    """The "tests" app: give users made through store functions to it to reach them over HTTP."""
    return test_app_key.app_id


@pytest.fixture(scope="session")
def admin_headers(settings: Settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.admin_key.get_secret_value()}"}


@pytest.fixture(scope="session")
def auth_headers(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


@pytest.fixture(scope="session")
def client(runtime: Runtime, auth_headers: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), headers=auth_headers) as client:
        yield client


@pytest.fixture
def user_id(client: TestClient) -> str:
    response = client.post("/v1/users", json={"name": "test"})
    assert response.status_code == 201
    return response.json()["id"]


@pytest.fixture
def scratch_db_url(runtime: Runtime) -> Iterator[str]:
    """A fresh, empty database on the same server, dropped afterwards."""
    name = f"scratch_{uuid.uuid4().hex[:12]}"
    admin = create_engine(runtime.db.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(runtime.db.url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
