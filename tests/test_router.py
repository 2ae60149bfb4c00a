"""The router's logic with small fake backends; tests/test_router_backends.py covers the same
paths with the real GGUF in process and a real llama_cpp.server."""

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from memory_service.api.errors import model_busy
from memory_service.llm.base import BackendUnavailable, Completion, ModelError, Overloaded, estimate_tokens
from memory_service.llm.breaker import CircuitBreaker
from memory_service.llm.router import PromptParts, Routed, Router, RouterError
from memory_service.llm.router_config import RouterConfig, RouterConfigError, load_router_config
from memory_service.llm.routing import estimate_complexity, features
from memory_service.memory.store import RecalledMemory
from memory_service.config import REPO_ROOT


class Fake:
    can_stream = True

    def __init__(self, name: str, failures: list[Exception | None] | None = None, mid_stream: bool = False):
        self.name = name
        self.failures = list(failures or [])
        self.mid_stream = mid_stream
        self.prompts: list[list] = []

    def count_tokens(self, messages) -> int:
        return estimate_tokens(messages)

    def is_ready(self) -> bool:
        return True

    async def stream(self, messages, gen):
        self.prompts.append(messages)
        error = self.failures.pop(0) if self.failures else None
        if error is not None and not self.mid_stream:
            raise error
        yield f"hi from {self.name}"
        if error is not None:
            raise error
        yield Completion(text=f"hi from {self.name}", model=gen.model, prompt_tokens=100, completion_tokens=4)


def _config(**overrides) -> RouterConfig:
    raw = {
        "backends": {"a": {"kind": "llama_cpp"}, "b": {"kind": "openai", "base_url": "http://127.0.0.1:1/v1"}},
        "routes": {
            "small": {"backend": "a", "model": "m-a", "context_tokens": 400, "max_tokens": 50,
                      "fallbacks": ["big"], "retry": {"attempts": 2, "backoff_s": 0.1},
                      "cost_per_1k_input": 1.0, "cost_per_1k_output": 2.0},
            "big": {"backend": "b", "model": "m-b", "context_tokens": 4000},
        },
        "policy": {"default": "small", "rules": [
            {"name": "emotional", "when": {"min_intensity": 0.7}, "route": "big"},
            {"name": "premium", "when": {"tiers": ["premium"]}, "route": "big"},
            {"name": "arm_b", "when": {"arms": ["treatment"], "min_memories": 2}, "route": "big"},
        ]},
        "breaker": {"failures": 2, "open_s": 10},
    }
    raw.update(overrides)
    return RouterConfig.model_validate(raw)


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def _router(a: Fake, b: Fake, clock=None, **overrides) -> tuple[Router, list[float]]:
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    router = Router(_config(**overrides), {"a": a, "b": b}, default_max_tokens=32, temperature=0.0,
                    sleep=sleep, clock=clock or Clock())
    return router, slept


def _memory(text: str, score: float, day: int = 1, intensity: float | None = None) -> RecalledMemory:
    m = RecalledMemory(id=uuid.uuid4(), text=text, role="user", score=score, created_at=datetime(2026, 5, day, tzinfo=UTC))
    if intensity is not None:
        object.__setattr__(m, "intensity", intensity)
    return m


def _run(router: Router, parts: PromptParts, **kw) -> tuple[list[str], Routed]:
    async def go():
        texts, result = [], None
        async for item in router.stream(parts, features(parts.message, parts.memories, **kw)):
            if isinstance(item, str):
                texts.append(item)
            else:
                result = item
        return texts, result
    return asyncio.run(go())


PARTS = PromptParts(message="hello", memories=[])


def test_policy_uses_features_and_unknown_intensity_never_matches() -> None:
    router, _ = _router(Fake("a"), Fake("b"))
    decide = lambda **kw: router.decide(features("hello", kw.pop("memories", []), **kw))  # noqa: E731
    assert decide() == ("small", "default")
    assert decide(intensity=None) == ("small", "default")  # no tags yet
    assert decide(intensity=0.9) == ("big", "emotional")
    assert decide(memories=[_memory("x", 0.5, intensity=0.8)]) == ("big", "emotional")
    assert decide(tier="premium") == ("big", "premium")
    assert decide(arm="treatment") == ("small", "default")  # needs 2 memories too
    assert decide(arm="treatment", memories=[_memory("x", 0.5), _memory("y", 0.4)]) == ("big", "arm_b")
    assert router.decide(features("hi", []), requested="big") == ("big", "requested")
    with pytest.raises(KeyError, match="unknown model 'nope'"):
        router.decide(features("hi", []), requested="nope")
    assert estimate_complexity("hi") < 0.2 < estimate_complexity(
        "Could you compare the epistemological assumptions of Bayesian and frequentist inference? Why? How?")


def test_config_errors_name_the_field(tmp_path) -> None:
    assert load_router_config(REPO_ROOT / "config" / "router.yaml").policy.default == "small"
    bad = tmp_path / "router.yaml"
    bad.write_text("backends: {a: {kind: llama_cpp}}\nroutes: {r: {backend: zz, model: m}}\npolicy: {default: r}\n")
    with pytest.raises(RouterConfigError, match="unknown backend 'zz'"):
        load_router_config(bad)
    bad.write_text("backends: {a: {kind: llama_cpp, turbo: true}}\nroutes: {}\npolicy: {default: r}\n")
    with pytest.raises(RouterConfigError, match="backends.a.llama_cpp.turbo"):
        load_router_config(bad)


def test_success_records_cost_and_usage() -> None:
    a, b = Fake("a"), Fake("b")
    texts, routed = _run(*_router(a, b)[:1], PARTS)
    assert texts == ["hi from a"] and routed.route == "small" and routed.backend == "a"
    [call] = routed.calls
    assert call.error is None and call.fallback_from is None and call.model == "m-a"
    assert call.cost == pytest.approx(100 / 1000 * 1.0 + 4 / 1000 * 2.0)
    assert call.ttft_ms is not None and not b.prompts


def test_retryable_errors_retry_with_backoff_then_fall_back() -> None:
    a = Fake("a", [BackendUnavailable("refused"), BackendUnavailable("refused")])
    router, slept = _router(a, Fake("b"))
    texts, routed = _run(router, PARTS)
    assert texts == ["hi from b"] and routed.route == "big"
    assert [c.route for c in routed.calls] == ["small", "small", "big"]
    assert routed.calls[-1].fallback_from == "small" and "refused" in routed.calls[0].error
    assert slept == [0.1]  # attempts: 2 on "small" means one retry, after backoff_s
    assert router.breakers["a"].state == "open"  # 2 consecutive failures


def test_non_retryable_errors_fall_back_without_retry() -> None:
    a = Fake("a", [ModelError("HTTP 400: bad request")])
    router, slept = _router(a, Fake("b"))
    _, routed = _run(router, PARTS)
    assert routed.route == "big" and slept == [] and len(a.prompts) == 1
    assert router.breakers["a"].state == "closed"  # the backend answered


def test_failure_after_first_token_does_not_fall_back() -> None:
    a = Fake("a", [BackendUnavailable("connection reset")], mid_stream=True)
    b = Fake("b")
    router, _ = _router(a, b)
    with pytest.raises(RouterError, match="mid-stream") as info:
        _run(router, PARTS)
    assert not b.prompts and info.value.calls[0].ttft_ms is not None


def test_all_routes_failing_raises_with_every_call() -> None:
    a = Fake("a", [BackendUnavailable("down")] * 2)
    b = Fake("b", [BackendUnavailable("down")] * 2)
    router, _ = _router(a, b)
    with pytest.raises(RouterError, match="no backend could answer") as info:
        _run(router, PARTS)
    assert [c.backend for c in info.value.calls] == ["a", "a", "b", "b"]
    assert not info.value.overloaded  # down, not busy: the API answers 503


def test_every_backend_busy_is_backpressure_not_an_outage() -> None:
    router, _ = _router(Fake("a", [Overloaded("queue full")]), Fake("b", [Overloaded("queue full")]))
    with pytest.raises(RouterError) as info:
        _run(router, PARTS)
    assert info.value.overloaded and model_busy(info.value)  # the API answers 429 with Retry-After
    mixed, _ = _router(Fake("a", [Overloaded("queue full")]), Fake("b", [BackendUnavailable("down")] * 2))
    with pytest.raises(RouterError) as info:
        _run(mixed, PARTS)
    assert not info.value.overloaded


def test_breaker_opens_skips_then_half_open_probe_closes_it() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=2, open_s=10, clock=clock)
    breaker.failure()
    assert breaker.state == "closed" and breaker.allow()
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow()
    clock.now = 10.0
    assert breaker.state == "half_open" and breaker.allow() and not breaker.allow()  # one probe only
    breaker.failure()
    assert breaker.state == "open"  # the probe failed: open again
    clock.now = 20.0
    assert breaker.allow()
    breaker.success()
    assert breaker.state == "closed" and breaker.allow()

    # Through the router: an open breaker sends traffic down the chain without calling the backend.
    a, b = Fake("a", [BackendUnavailable("down")] * 2), Fake("b")
    router, _ = _router(a, b, clock=clock)
    _run(router, PARTS)
    assert router.breakers["a"].state == "open"
    calls_before = len(a.prompts)
    _, routed = _run(router, PARTS)
    assert routed.route == "big" and len(a.prompts) == calls_before
    clock.now += 10
    _, routed = _run(router, PARTS)
    assert routed.route == "small" and router.breakers["a"].state == "closed"


def test_fit_drops_lowest_ranked_memories_and_never_sends_an_oversized_prompt() -> None:
    a = Fake("a")
    router, _ = _router(a, Fake("b"))
    memories = [_memory(f"memory number {i} " + "x" * 150, score=1 - i / 10, day=i + 1) for i in range(8)]
    budget = 400 - 50
    messages, kept = router.fit("small", PromptParts("hello", memories))
    assert estimate_tokens(messages) <= budget
    assert 0 < len(kept) < len(memories) and kept == memories[: len(kept)]  # best first survive
    _, routed = _run(router, PromptParts("hello", memories))
    assert routed.memories == kept and estimate_tokens(a.prompts[-1]) <= budget

    history = [{"role": "user", "content": "y" * 600}, {"role": "assistant", "content": "ok"}]
    messages, kept = router.fit("small", PromptParts("hello", memories, history))
    assert kept == [] and messages[1:3] == history  # memories go first, the conversation stays
    assert estimate_tokens(messages) <= budget
    messages, _ = router.fit("small", PromptParts("hello", memories, history * 3))
    assert messages[1:] == [*history, {"role": "user", "content": "hello"}]  # then the oldest turns

    # Too long even alone for "small": it goes to "big", whose window is larger.
    long = PromptParts("z" * 1500, [])
    _, routed = _run(router, long)
    assert routed.route == "big" and len(a.prompts) == 1  # "small" was never called
