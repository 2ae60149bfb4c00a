"""The memories API: add with an event time, read, edit, delete, search; errors are explicit."""

import uuid

import pytest


@pytest.fixture
def add(client, user_id):
    def add(text: str, **extra):
        response = client.post(f"/v1/users/{user_id}/memories", json={"text": text, **extra})
        assert response.status_code == 201, response.text
        return response.json()

    return add


def test_add_read_edit_delete(client, user_id, add) -> None:
    memory = add("I ran my first marathon in Berlin.", speaker="Ana", created_at="2024-09-29T09:00:00+02:00")
    assert memory["created_at"].startswith("2024-09-29T07:00:00")
    assert memory["speaker"] == "Ana" and memory["merged"] is False
    assert memory["ekman_label"] is not None and memory["importance"] > 0
    url = f"/v1/users/{user_id}/memories/{memory['id']}"
    assert client.get(url).json()["text"] == "I ran my first marathon in Berlin."

    edited = client.patch(url, json={"text": "I ran my first half-marathon in Berlin."})
    assert edited.status_code == 200 and edited.json()["text"] == "I ran my first half-marathon in Berlin."
    hits = client.post(f"/v1/users/{user_id}/memories/search", json={"query": "half-marathon", "k": 1}).json()
    assert hits["memories"][0]["id"] == memory["id"]

    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404
    assert client.delete(url).status_code == 404


def test_near_duplicate_is_merged(client, user_id, add) -> None:
    first = add("My favourite colour is green.")
    second = add("My favourite colour is green.")
    assert second["merged"] is True and second["id"] == first["id"] and second["mentions"] == 2
    assert len(client.get(f"/v1/users/{user_id}/memories").json()) == 1


def test_search_ranks_and_records_the_recall(client, user_id, add) -> None:
    add("We got a golden retriever puppy named Sunny.")
    add("The car needs new tyres before winter.")
    body = client.post(
        f"/v1/users/{user_id}/memories/search", json={"query": "What is my dog called?", "k": 2, "policy": "semantic"}
    ).json()
    assert body["policy"] == "semantic"
    top = body["memories"][0]
    assert "Sunny" in top["text"] and top["score"] == pytest.approx(top["components"]["semantic"], abs=1e-3)
    # The recall counter is bumped after the response, by a background task.
    recalled = client.get(f"/v1/users/{user_id}/memories/{top['id']}").json()
    assert recalled["recall_count"] == 1 and recalled["last_recalled_at"] is not None


def test_search_with_no_memories_is_empty(client, user_id) -> None:
    response = client.post(f"/v1/users/{user_id}/memories/search", json={"query": "anything"})
    assert response.status_code == 200 and response.json()["memories"] == []


def test_errors(client, user_id, add) -> None:
    stranger = uuid.uuid4()
    assert client.post(f"/v1/users/{stranger}/memories", json={"text": "hi"}).status_code == 404
    assert client.post(f"/v1/users/{stranger}/memories/search", json={"query": "hi"}).status_code == 404
    assert client.get(f"/v1/users/{user_id}/memories/{uuid.uuid4()}").status_code == 404
    memory = add("A memory of mine.")
    other = client.post("/v1/users").json()["id"]
    # Another user's memory id answers 404, as if it did not exist.
    assert client.get(f"/v1/users/{other}/memories/{memory['id']}").status_code == 404
    assert client.delete(f"/v1/users/{other}/memories/{memory['id']}").status_code == 404

    def field(response) -> str:
        assert response.status_code == 422, response.text
        return response.json()["detail"][0]["loc"][-1]

    assert field(client.post(f"/v1/users/{user_id}/memories", json={"text": " "})) == "text"
    assert field(client.post(f"/v1/users/{user_id}/memories", json={"text": "x" * 10_000})) == "text"
    assert field(client.post(f"/v1/users/{user_id}/memories", json={"text": "ok", "created_at": "yesterday"})) == "created_at"
    assert field(client.post(f"/v1/users/{user_id}/memories/search", json={"query": "x", "policy": "nope"})) == "policy"
    assert field(client.post(f"/v1/users/{user_id}/memories/search", json={"query": "x", "k": 0})) == "k"
    assert field(client.patch(f"/v1/users/{user_id}/memories/{memory['id']}", json={"text": ""})) == "text"
