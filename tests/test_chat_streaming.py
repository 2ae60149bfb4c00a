"""Streaming chat (SSE), the OpenAI-compatible endpoints through the official `openai` client,
the router call log, and a turn that outlives its client's disconnect."""

import dataclasses
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import openai
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import select

from memory_service.api.app import create_app
from memory_service.db.models import Message, RouterCall
from tests.test_router_backends import llama_server, remote_first_router  # noqa: F401  (session fixture)


@pytest.fixture(scope="session")
def server_url(runtime) -> Iterator[str]:
    """The app on a real loopback port, so clients stream and disconnect as they would in production."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _sse(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if lines:
            events.append((lines["event"], json.loads(lines["data"])))
    return events


def _calls(runtime, user_id: str) -> list[RouterCall]:
    with runtime.db.transaction() as session:
        return list(session.scalars(select(RouterCall).where(RouterCall.user_id == uuid.UUID(user_id)).order_by(RouterCall.id)))


def _messages(runtime, user_id: str) -> list[Message]:
    with runtime.db.transaction() as session:
        return list(session.scalars(select(Message).where(Message.user_id == uuid.UUID(user_id)).order_by(Message.created_at)))


def test_sse_streams_tokens_then_a_final_event(client, runtime, user_id) -> None:
    client.post("/v1/chat", json={"user_id": user_id, "message": "My favourite tea is jasmine green tea."})
    response = client.post("/v1/chat", json={"user_id": user_id, "message": "Which tea do I like?", "stream": True})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = _sse(response.text)
    kinds = [k for k, _ in events]
    assert kinds[-1] == "done" and set(kinds[:-1]) == {"token"} and len(kinds) > 2
    done = events[-1][1]
    assert done["reply"] == "".join(d["text"] for k, d in events[:-1]).strip()
    assert done["memories_used"][0]["text"] == "My favourite tea is jasmine green tea."
    assert done["route"] == {"name": "small", "reason": "default", "backend": "local"}
    assert done["usage"]["prompt_tokens"] > 20 and done["usage"]["completion_tokens"] > 0
    assert 0 < done["timings"]["ttft_ms"] <= done["timings"]["latency_ms"]

    calls = _calls(runtime, user_id)
    assert [(c.route, c.backend, c.streamed, c.error) for c in calls] == [
        ("small", "local", False, None), ("small", "local", True, None)]
    assert calls[-1].completion_tokens == done["usage"]["completion_tokens"] and calls[-1].ttft_ms is not None
    assert str(calls[-1].conversation_id) == done["conversation_id"]
    assert [m.content for m in _messages(runtime, user_id)][-1] == done["reply"]


def test_stream_errors_before_and_after_headers(client, user_id) -> None:
    assert client.post("/v1/chat", json={"user_id": str(uuid.uuid4()), "message": "hi", "stream": True}).status_code == 404
    assert client.post("/v1/chat", json={"user_id": user_id, "message": " ", "stream": True}).status_code == 422


def test_disconnect_mid_stream_still_stores_the_whole_turn(server_url, runtime, user_id, auth_headers) -> None:
    with httpx.Client(base_url=server_url, timeout=60, headers=auth_headers) as http:
        with http.stream("POST", "/v1/chat", json={
            "user_id": user_id, "message": "Tell me a long story about a lighthouse keeper.", "stream": True,
        }) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if line.startswith("data:"):
                    first = json.loads(line[5:])["text"]
                    break
        # Leaving the block closed the connection after one token.
    deadline = time.monotonic() + 60
    while len(_messages(runtime, user_id)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    user_msg, reply = _messages(runtime, user_id)
    assert user_msg.content.startswith("Tell me a long story")
    assert reply.role == "assistant" and len(reply.content) > len(first.strip())
    [call] = _calls(runtime, user_id)
    assert call.streamed and call.completion_tokens > 1 and call.error is None


def test_openai_client_non_streaming_and_streaming(server_url, runtime, user_id, api_key) -> None:
    client = openai.OpenAI(base_url=f"{server_url}/v1", api_key=api_key)
    assert [m.id for m in client.models.list()] == ["auto", "small", "careful"]

    first = client.chat.completions.create(
        model="auto", user=user_id, messages=[{"role": "user", "content": "My cat Miso sleeps in cardboard boxes."}])
    assert first.choices[0].message.content and first.choices[0].finish_reason == "stop"
    assert first.usage.prompt_tokens > 0 and first.usage.completion_tokens > 0
    assert first.model == "small"

    stream = client.chat.completions.create(
        model="careful", user=user_id, stream=True, stream_options={"include_usage": True},
        messages=[{"role": "system", "content": "ignored: the service keeps the conversation"},
                  {"role": "user", "content": "What does my cat love?"}])
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    assert chunks[-1].usage.completion_tokens > 0
    memory = next(c for c in chunks if c.choices and c.choices[0].finish_reason == "stop").model_extra["memory"]
    assert memory["route"] == "careful" and memory["reason"] == "requested"
    assert memory["memories_used"][0]["text"] == "My cat Miso sleeps in cardboard boxes."
    stored = _messages(runtime, user_id)
    assert [m.role for m in stored] == ["user", "assistant"] * 2 and stored[-1].content == text.strip()

    # The header names the user too.
    by_header = openai.OpenAI(base_url=f"{server_url}/v1", api_key=api_key, default_headers={"X-User-Id": user_id})
    assert by_header.chat.completions.create(model="auto", messages=[{"role": "user", "content": "Hi!"}]).choices


def test_openai_client_errors(server_url, user_id, api_key) -> None:
    stranger = openai.OpenAI(base_url=f"{server_url}/v1", api_key="ms_not-a-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        stranger.chat.completions.create(model="auto", user=user_id, messages=[{"role": "user", "content": "hi"}])
    client = openai.OpenAI(base_url=f"{server_url}/v1", api_key=api_key, max_retries=0)
    with pytest.raises(openai.NotFoundError, match="model 'gpt-9' does not exist"):
        client.chat.completions.create(model="gpt-9", user=user_id, messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError, match="X-User-Id"):
        client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.NotFoundError, match="not found"):
        client.chat.completions.create(model="auto", user=str(uuid.uuid4()), messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.BadRequestError, match="last message"):
        client.chat.completions.create(model="auto", user=user_id, messages=[{"role": "assistant", "content": "hi"}])


def test_turn_routed_to_the_second_backend_is_logged(runtime, llama_server, user_id, auth_headers) -> None:  # noqa: F811
    routed = dataclasses.replace(runtime, router=remote_first_router(runtime, llama_server))
    with TestClient(create_app(routed), headers=auth_headers) as client:
        body = client.post("/v1/chat", json={"user_id": user_id, "message": "Hello there!"}).json()
    assert body["reply"]
    [call] = _calls(runtime, user_id)
    assert (call.route, call.backend, call.model, call.fallback_from) == ("remote", "remote", "smollm2", None)
    assert call.cost > 0 and call.prompt_tokens > 0
