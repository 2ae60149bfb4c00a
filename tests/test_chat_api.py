"""The chat turn through HTTP, on the real database, embedder and GGUF model."""

import uuid

from sqlalchemy import func, select

from memory_service.db.models import Event, Memory, Message


def _count(runtime, model, user_id: str) -> int:
    with runtime.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model).where(model.user_id == uuid.UUID(user_id)))


def _chat(client, user_id: str, message: str, **extra):
    return client.post("/v1/chat", json={"user_id": user_id, "message": message, **extra})


def test_create_user_logs_event(client, runtime) -> None:
    response = client.post("/v1/users", json={"name": "Ana"})
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "Ana" and uuid.UUID(body["id"])
    assert _count(runtime, Event, body["id"]) == 1
    assert client.post("/v1/users").status_code == 201  # the body is optional


def test_second_turn_recalls_the_first(client, runtime, user_id) -> None:
    first = _chat(client, user_id, "My sister Maya is moving to Lisbon next month and I will miss her.")
    assert first.status_code == 200, first.text
    first_body = first.json()
    assert first_body["memories_used"] == []  # nothing to remember yet
    assert first_body["reply"].strip()
    assert first_body["model"] == "SmolLM2-135M-Instruct.Q4_1"
    assert first_body["latency_ms"] > 0

    _chat(client, user_id, "I had pasta for lunch today.")
    second = _chat(client, user_id, "Where is my sister moving to?")
    assert second.status_code == 200, second.text
    body = second.json()
    assert body["conversation_id"] == first_body["conversation_id"]
    recalled = body["memories_used"]
    assert recalled[0]["text"].startswith("My sister Maya is moving to Lisbon")
    assert recalled[0]["score"] > recalled[-1]["score"]
    assert body["reply"].strip()

    # Each turn stores a user and an assistant message; only user messages become memories.
    assert _count(runtime, Message, user_id) == 6
    assert _count(runtime, Memory, user_id) == 3
    memories = client.get(f"/v1/users/{user_id}/memories").json()
    assert [m["text"] for m in memories][0] == "Where is my sister moving to?"  # newest first
    lisbon = next(m for m in memories if "Lisbon" in m["text"])
    assert lisbon["recall_count"] == 2 and lisbon["last_recalled_at"] is not None


def test_memories_stay_with_their_user(client, user_id) -> None:
    other = client.post("/v1/users").json()["id"]
    assert _chat(client, other, "My password hint is the name of my first cat, Tigger.").status_code == 200
    body = _chat(client, user_id, "What was the name of my first cat?").json()
    assert all("Tigger" not in m["text"] for m in body["memories_used"])
    assert all("Tigger" not in m["text"] for m in client.get(f"/v1/users/{user_id}/memories").json())


def test_memory_list_pages(client, user_id) -> None:
    for text in ("one thing", "another thing", "a third thing"):
        assert _chat(client, user_id, text).status_code == 200
    page = client.get(f"/v1/users/{user_id}/memories", params={"limit": 2, "offset": 1}).json()
    assert [m["text"] for m in page] == ["another thing", "one thing"]
    assert client.get(f"/v1/users/{user_id}/memories", params={"limit": 0}).status_code == 422


def test_unknown_user_and_conversation_are_404(client, user_id) -> None:
    stranger = str(uuid.uuid4())
    assert _chat(client, stranger, "hello").status_code == 404
    assert client.get(f"/v1/users/{stranger}/memories").status_code == 404
    response = _chat(client, user_id, "hello", conversation_id=str(uuid.uuid4()))
    assert response.status_code == 404 and "conversation" in response.json()["detail"]


def _error_fields(response) -> list[str]:
    assert response.status_code == 422, response.text
    return [err["loc"][-1] for err in response.json()["detail"]]


def test_bad_input_is_422_naming_the_field(client, runtime, user_id) -> None:
    assert _error_fields(client.post("/v1/chat", json={"user_id": user_id})) == ["message"]
    assert _error_fields(_chat(client, user_id, "")) == ["message"]
    assert _error_fields(_chat(client, user_id, "   \n")) == ["message"]
    assert _error_fields(_chat(client, user_id, "nul\x00byte")) == ["message"]
    too_long = "x" * (runtime.settings.max_message_chars + 1)
    assert _error_fields(_chat(client, user_id, too_long)) == ["message"]
    assert _error_fields(_chat(client, "not-a-uuid", "hi")) == ["user_id"]
    assert _error_fields(_chat(client, user_id, "hi", mood="happy")) == ["mood"]
    malformed = client.post("/v1/chat", content=b"{not json", headers={"content-type": "application/json"})
    assert malformed.status_code == 422
    assert _count(runtime, Message, user_id) == 0


def test_healthz(client) -> None:
    assert client.get("/readyz").json() == {"status": "ok", "database": "ok", "model": "ok", "router": "ok"}
