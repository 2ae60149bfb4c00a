"""Past one machine: two service processes (`memory-service serve`) against one Postgres, with the
model served by a separate llama_cpp.server process through the router's OpenAI-compatible backend.
What one replica remembers, the other recalls."""

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.processes import free_port, wait_until_up
from tests.test_router_backends import LlamaServer, llama_server  # noqa: F401  (the session fixture)


class Replica:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", "from memory_service.cli import main; main()", "serve", "--port", str(self.port)],
                env=env, stdout=subprocess.DEVNULL, stderr=err,
            )

    def wait_ready(self, deadline: float) -> None:
        if not wait_until_up(f"{self.url}/readyz", self.proc, deadline, self.log.read_text, "replica"):
            raise RuntimeError(f"replica not ready in time: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def log_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{")]


@pytest.fixture
def replicas(runtime, llama_server: LlamaServer, tmp_path: Path) -> Iterator[tuple[Replica, Replica]]:  # noqa: F811
    router_config = tmp_path / "router.yaml"
    router_config.write_text(yaml.safe_dump({
        "backends": {"remote": {"kind": "openai", "base_url": llama_server.base_url}},
        "routes": {"remote": {"backend": "remote", "model": "smollm2", "context_tokens": 2048, "timeout_s": 60,
                              "retry": {"attempts": 2, "backoff_s": 0.2}}},
        "policy": {"default": "remote"},
    }))
    env = {
        **os.environ,
        "DATABASE_URL": runtime.db.url,  # the test session's Postgres, already migrated
        "MEMORY_SERVICE_ROUTER_CONFIG_PATH": str(router_config),
        "MEMORY_SERVICE_LLM_MAX_TOKENS": "8",
        "MEMORY_SERVICE_LLM_TEMPERATURE": "0",
        "MEMORY_SERVICE_LLM_CONTEXT_SIZE": "512",
        "HF_HUB_OFFLINE": "1",
    }
    pair = (Replica(env, tmp_path / "a.log"), Replica(env, tmp_path / "b.log"))
    try:
        deadline = time.monotonic() + 180
        for replica in pair:
            replica.wait_ready(deadline)
        yield pair
    finally:
        for replica in pair:
            replica.stop()


def test_two_replicas_share_memories_and_the_model_server(replicas, auth_headers) -> None:
    a, b = replicas
    with httpx.Client(headers=auth_headers, timeout=120) as http:
        user = http.post(f"{a.url}/v1/users", json={"name": "Lina's sibling"})
        assert user.status_code == 201, user.text
        user_id = user.json()["id"]

        told = http.post(f"{a.url}/v1/chat", json={"user_id": user_id, "message": "My sister Lina moved to Porto."},
                         headers={"X-Request-ID": "replica-a-turn-1"})
        assert told.status_code == 200, told.text
        assert told.json()["model"] == "smollm2"  # answered by llama_cpp.server, not an in-process model
        assert told.headers["X-Request-ID"] == "replica-a-turn-1"

        added = http.post(f"{b.url}/v1/users/{user_id}/memories", json={"text": "I am allergic to peanuts."})
        assert added.status_code == 201, added.text

        for replica in (a, b):
            texts = [m["text"] for m in http.get(f"{replica.url}/v1/users/{user_id}/memories").json()]
            assert sorted(texts) == ["I am allergic to peanuts.", "My sister Lina moved to Porto."]

        asked = http.post(f"{b.url}/v1/chat", json={"user_id": user_id, "message": "Where does my sister Lina live?"})
        assert asked.status_code == 200, asked.text
        assert asked.json()["memories_used"][0]["text"] == "My sister Lina moved to Porto."  # written through A

        metrics_b = http.get(f"{b.url}/metrics").text
        assert 'memory_service_llm_calls_total{backend="remote",outcome="ok",route="remote"} 1.0' in metrics_b

    a.stop()
    turn = [line for line in a.log_lines() if line.get("request_id") == "replica-a-turn-1"]
    assert any(line["logger"] == "memory_service.access" and line["route"] == "/v1/chat" for line in turn)
