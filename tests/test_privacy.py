"""Erasure and export: DELETE /v1/users/{id} leaves nothing of the user, GET .../export shows all."""

import dataclasses
import uuid

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from memory_service.api.app import create_app
from memory_service.db.models import Event, User
from memory_service.privacy import count_rows


def _busy_user(client) -> str:
    """A user with two chat turns (messages, memories, events, router calls), a memory added by
    hand and a stored idempotent response."""
    user = client.post("/v1/users", json={"name": "Leaving"}).json()["id"]
    assert client.post("/v1/chat", json={"user_id": user, "message": "My brother Tom lives in Oslo."},
                       headers={"Idempotency-Key": f"k-{uuid.uuid4()}"}).status_code == 200
    assert client.post("/v1/chat", json={"user_id": user, "message": "Where does Tom live?"}).status_code == 200
    assert client.post(f"/v1/users/{user}/memories", json={"text": "I am allergic to peanuts."}).status_code == 201
    return user


def _counts(runtime, user: str) -> dict[str, int]:
    with runtime.db.transaction(scope=None) as session:
        return count_rows(session, uuid.UUID(user))


def test_export_returns_all_of_the_users_data(client, runtime) -> None:
    user = _busy_user(client)
    response = client.get(f"/v1/users/{user}/export")
    assert response.status_code == 200
    data = response.json()
    counts = _counts(runtime, user)
    assert data["user"]["id"] == user and data["user"]["name"] == "Leaving"
    for table in ("conversations", "messages", "memories", "events", "experiment_assignments", "router_calls"):
        assert len(data[table]) == counts[table], table
    assert [m["role"] for m in data["messages"]] == ["user", "assistant"] * 2
    assert "I am allergic to peanuts." in [m["text"] for m in data["memories"]]
    assert len(data["memories"][0]["embedding"]) == 384
    lean = client.get(f"/v1/users/{user}/export", params={"embeddings": "false"}).json()
    assert "embedding" not in lean["memories"][0]


def test_delete_erases_everything_and_pseudonymizes_events(client, runtime) -> None:
    user = _busy_user(client)
    before = _counts(runtime, user)
    assert all(before[t] > 0 for t in ("conversations", "messages", "memories", "events", "router_calls",
                                       "idempotent_responses")), before
    with runtime.db.transaction(scope=None) as session:
        total_events = session.scalar(select(func.count()).select_from(Event))

    assert client.delete(f"/v1/users/{user}").status_code == 204
    assert _counts(runtime, user) == {t: 0 for t in before}
    with runtime.db.transaction(scope=None) as session:
        assert session.get(User, uuid.UUID(user)) is None
        # Pseudonymized: the same number of events, none naming a conversation.
        assert session.scalar(select(func.count()).select_from(Event)) == total_events
    assert client.get(f"/v1/users/{user}").status_code == 404
    assert client.get(f"/v1/users/{user}/export").status_code == 404
    assert client.delete(f"/v1/users/{user}").status_code == 404


def test_delete_can_drop_events_instead(client, runtime, auth_headers) -> None:
    user = _busy_user(client)
    events = _counts(runtime, user)["events"]
    with runtime.db.transaction(scope=None) as session:
        total_events = session.scalar(select(func.count()).select_from(Event))
    deleting = dataclasses.replace(runtime, settings=runtime.settings.model_copy(update={"erase_events": "delete"}))
    with TestClient(create_app(deleting), headers=auth_headers) as app_client:
        assert app_client.delete(f"/v1/users/{user}").status_code == 204
    with runtime.db.transaction(scope=None) as session:
        assert session.scalar(select(func.count()).select_from(Event)) == total_events - events
