"""Faults answer clearly and leave nothing half-written."""

import dataclasses
import uuid

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from memory_service import chat
from memory_service.api.app import create_app
from memory_service.db.database import Database
from memory_service.db.models import Event, Memory, Message
from memory_service.llm.base import ModelError
from memory_service.llm.router import Router


class BrokenModel:
    name = "broken"
    can_stream = True

    def complete(self, messages, *, max_tokens, temperature):
        raise ModelError("backend crashed")

    async def stream(self, messages, gen):
        raise ModelError("backend crashed")
        yield  # an async generator, like every backend

    def count_tokens(self, messages) -> int:
        return 10

    def is_ready(self) -> bool:
        return False


def _rows(runtime, user_id: str) -> dict[str, int]:
    with runtime.db.transaction() as session:
        return {
            model.__tablename__: session.scalar(
                select(func.count()).select_from(model).where(model.user_id == uuid.UUID(user_id))
            )
            for model in (Message, Memory, Event)
        }


def test_unreachable_database_is_503(runtime, auth_headers) -> None:
    down = Database("postgresql://postgres@127.0.0.1:1/nowhere", connect_timeout_s=1)
    app = create_app(dataclasses.replace(runtime, db=down))
    with TestClient(app, headers=auth_headers) as client:
        response = client.post("/v1/users")
        assert response.status_code == 503
        assert "database unavailable" in response.json()["detail"]
        chat_response = client.post("/v1/chat", json={"user_id": str(uuid.uuid4()), "message": "hi"})
        assert chat_response.status_code == 503
        assert client.get("/readyz").json()["database"] == "down"
    down.close()


def test_failed_model_stores_nothing(runtime, client, user_id, auth_headers) -> None:
    before = _rows(runtime, user_id)
    router = Router(runtime.router.config, {name: BrokenModel() for name in runtime.router.backends},
                    default_max_tokens=8, temperature=0.0)
    with TestClient(create_app(dataclasses.replace(runtime, llm=BrokenModel(), router=router)), headers=auth_headers) as broken:
        response = broken.post("/v1/chat", json={"user_id": user_id, "message": "Remember that I love jazz."})
        assert response.status_code == 503
        assert "model backend failed" in response.json()["detail"]
        assert broken.get("/readyz").status_code == 503
    assert _rows(runtime, user_id) == before


def test_failure_half_way_through_the_write_rolls_back_the_turn(runtime, client, user_id, monkeypatch) -> None:
    assert client.post("/v1/chat", json={"user_id": user_id, "message": "I adopted a kitten."}).status_code == 200
    before = _rows(runtime, user_id)

    def connection_lost(*args, **kwargs):
        raise OperationalError("UPDATE memories", {}, Exception("server closed the connection"))

    # Messages and the memory are already flushed when the recall bookkeeping fails.
    monkeypatch.setattr(chat, "mark_recalled", connection_lost)
    response = client.post("/v1/chat", json={"user_id": user_id, "message": "The kitten is called Miso."})
    assert response.status_code == 503
    assert _rows(runtime, user_id) == before


def test_embedded_server_stops_on_close(tmp_path, settings) -> None:
    db = Database.from_settings(settings.model_copy(update={"database_url": None, "pg_data_dir": tmp_path / "pg"}))
    assert db.is_ready()
    pid_file = tmp_path / "pg" / "postmaster.pid"
    assert pid_file.exists()
    db.close()
    assert not pid_file.exists()  # postgres removes it on a clean shutdown
    assert not Database(db.url, connect_timeout_s=1).is_ready()
