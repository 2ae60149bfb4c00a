"""The router against real backends: the service's GGUF in process, and llama-cpp-python's
OpenAI-compatible server on a loopback port serving the same file. The server is killed
mid-test (fallback, breaker opens) and brought back (half-open probe, breaker closes)."""

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from memory_service.llm.openai_backend import OpenAIBackend
from memory_service.llm.router import PromptParts, Routed, Router, RouterError
from memory_service.llm.router_config import RouterConfig
from memory_service.llm.routing import features
from tests.processes import free_port, wait_until_up


class LlamaServer:
    def __init__(self, model_path: str) -> None:
        self.port = free_port()
        self.model_path = model_path
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout_s: float = 90) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", self.model_path, "--host", "127.0.0.1",
             "--port", str(self.port), "--n_ctx", "2048", "--model_alias", "smollm2", "--verbose", "False"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout_s
        output = lambda: self.proc.stderr.read().decode()  # noqa: E731
        if wait_until_up(f"{self.base_url}/models", self.proc, deadline, output, "llama_cpp.server"):
            return
        self.stop()
        raise RuntimeError(f"llama_cpp.server not ready within {timeout_s}s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


@pytest.fixture(scope="session")
def llama_server(settings) -> Iterator[LlamaServer]:
    server = LlamaServer(str(settings.llm_model_path))
    server.start()
    yield server
    server.stop()


def remote_first_config(base_url: str) -> RouterConfig:
    return RouterConfig.model_validate({
        "backends": {"local": {"kind": "llama_cpp"}, "remote": {"kind": "openai", "base_url": base_url}},
        "routes": {
            "remote": {"backend": "remote", "model": "smollm2", "context_tokens": 2048, "timeout_s": 30,
                       "fallbacks": ["local"], "retry": {"attempts": 1}, "cost_per_1k_input": 0.5,
                       "cost_per_1k_output": 1.5},
            "local": {"backend": "local", "model": "SmolLM2-135M-Instruct.Q4_1", "context_tokens": 2048},
        },
        "policy": {"default": "remote"},
        "breaker": {"failures": 2, "open_s": 1.0},
    })


def remote_first_router(runtime, server: LlamaServer) -> Router:
    remote = OpenAIBackend("remote", server.base_url, count_tokens=runtime.llm.count_tokens)
    return Router(remote_first_config(server.base_url), {"local": runtime.llm, "remote": remote},
                  default_max_tokens=12, temperature=0.0)


def _ask(router: Router, message: str) -> Routed:
    return asyncio.run(router.complete(PromptParts(message, []), features(message, [])))


def test_remote_backend_then_fallback_breaker_open_and_close(runtime, llama_server) -> None:
    router = remote_first_router(runtime, llama_server)
    breaker = router.breakers["remote"]

    first = _ask(router, "Say hello.")
    assert first.backend == "remote" and first.completion.text
    assert first.completion.completion_tokens > 0 and first.completion.prompt_tokens > 10
    assert first.cost > 0 and first.ttft_ms <= first.latency_ms

    llama_server.stop()
    try:
        fell_back = _ask(router, "Say hello again.")
        assert fell_back.backend == "local" and fell_back.completion.text
        assert [c.backend for c in fell_back.calls] == ["remote", "local"]
        assert "ConnectError" in fell_back.calls[0].error and fell_back.calls[1].fallback_from == "remote"
        assert breaker.state == "closed"  # one failure so far, threshold 2
        _ask(router, "And once more.")
        assert breaker.state == "open"
        skipped = _ask(router, "Are you there?")
        assert [c.backend for c in skipped.calls] == ["local"]  # open: not even tried
    finally:
        llama_server.start()

    time.sleep(1.05)  # past open_s: the next call is the half-open probe
    assert breaker.state == "half_open"
    back = _ask(router, "Say hello.")
    assert back.backend == "remote" and breaker.state == "closed"


def test_only_remote_and_it_is_down_fails_cleanly(runtime) -> None:
    config = RouterConfig.model_validate({
        "backends": {"remote": {"kind": "openai", "base_url": "http://127.0.0.1:9/v1"}},
        "routes": {"remote": {"backend": "remote", "model": "x", "retry": {"attempts": 2, "backoff_s": 0.01}}},
        "policy": {"default": "remote"},
    })
    router = Router(config, {"remote": OpenAIBackend("remote", "http://127.0.0.1:9/v1")},
                    default_max_tokens=8, temperature=0.0)
    with pytest.raises(RouterError, match="no backend could answer") as info:
        _ask(router, "hi")
    assert len(info.value.calls) == 2 and all("ConnectError" in c.error for c in info.value.calls)


def test_in_process_backend_refuses_beyond_its_queue(runtime) -> None:
    """Backpressure: with max_queue 1, a second concurrent call is refused at once."""
    from memory_service.llm.base import Generation, Overloaded

    llm = runtime.llm
    saved, llm.max_queue = llm.max_queue, 1

    async def one(message: str) -> str:
        out = ""
        async for item in llm.stream([{"role": "user", "content": message}], Generation(max_tokens=8, temperature=0)):
            out += item if isinstance(item, str) else ""
        return out

    async def both():
        return await asyncio.gather(one("Count to three."), one("Count to four."), return_exceptions=True)

    try:
        results = asyncio.run(both())
    finally:
        llm.max_queue = saved
    assert isinstance(results[0], str) and results[0]
    assert isinstance(results[1], Overloaded)
