"""Idempotency-Key: a retried POST returns the first answer and does its work once."""

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from memory_service.db.models import Memory, Message, User


def _count(runtime, model, **where) -> int:
    with runtime.db.transaction(scope=None) as session:
        query = select(func.count()).select_from(model)
        for column, value in where.items():
            query = query.where(getattr(model, column) == value)
        return session.scalar(query)


def test_retried_chat_returns_the_first_reply_once(client, runtime, user_id) -> None:
    key = {"Idempotency-Key": f"turn-{uuid.uuid4()}"}
    body = {"user_id": user_id, "message": "I started learning the cello."}
    first = client.post("/v1/chat", json=body, headers=key)
    assert first.status_code == 200
    again = client.post("/v1/chat", json=body, headers=key)
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert _count(runtime, Message, user_id=uuid.UUID(user_id)) == 2  # one turn, not two

    changed = client.post("/v1/chat", json={**body, "message": "Something else."}, headers=key)
    assert changed.status_code == 422 and "different request" in changed.json()["detail"]


def test_retried_user_and_memory_creation(client, runtime, user_id) -> None:
    key = {"Idempotency-Key": f"user-{uuid.uuid4()}"}
    first = client.post("/v1/users", json={"name": "Once"}, headers=key)
    assert client.post("/v1/users", json={"name": "Once"}, headers=key).json() == first.json()
    assert _count(runtime, User, name="Once", id=uuid.UUID(first.json()["id"])) == 1

    key = {"Idempotency-Key": f"memory-{uuid.uuid4()}"}
    path = f"/v1/users/{user_id}/memories"
    before = _count(runtime, Memory, user_id=uuid.UUID(user_id))
    one = client.post(path, json={"text": "My favourite colour is teal."}, headers=key)
    two = client.post(path, json={"text": "My favourite colour is teal."}, headers=key)
    assert one.status_code == two.status_code == 201 and one.json() == two.json()
    assert _count(runtime, Memory, user_id=uuid.UUID(user_id)) == before + 1


def test_failed_requests_release_the_key_and_keys_are_per_app(client, runtime, user_id) -> None:
    key = {"Idempotency-Key": f"fail-{uuid.uuid4()}"}
    body = {"user_id": str(uuid.uuid4()), "message": "hello"}
    assert client.post("/v1/chat", json=body, headers=key).status_code == 404
    assert client.post("/v1/chat", json=body, headers=key).status_code == 404  # ran again, not replayed
    bad = client.post("/v1/users", json={}, headers={"Idempotency-Key": "\x7f"})
    assert bad.status_code == 422

    from memory_service.keys import create_key

    with runtime.db.transaction() as session:
        other = create_key(session, f"idem-{uuid.uuid4().hex[:6]}").key
    shared = {"Idempotency-Key": f"shared-{uuid.uuid4()}"}
    mine = client.post("/v1/users", json={"name": "A"}, headers=shared).json()
    theirs = TestClient(client.app, headers={"X-API-Key": other}).post("/v1/users", json={"name": "A"}, headers=shared)
    assert theirs.status_code == 201 and theirs.json()["id"] != mine["id"]
