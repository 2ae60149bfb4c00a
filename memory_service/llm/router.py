"""The router: pick a route from request features, fit the prompt to its context window, call
its backend with retries, fall back along the chain, and account for every call.

Fallback happens only before the first token: once text has reached the client it cannot be
taken back, so a failure after that ends the turn (and nothing is stored)."""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from memory_service.llm.base import (
    BackendUnavailable, ChatBackend, ChatMessage, Completion, ContextOverflow, Generation, ModelError, Overloaded,
)
from memory_service.llm.breaker import CircuitBreaker
from memory_service.llm.prompts import build_messages
from memory_service.llm.router_config import RouteConfig, RouterConfig
from memory_service.llm.routing import Features, decide
from memory_service.memory.store import RecalledMemory
from memory_service.observability import metrics


@dataclass(frozen=True)
class PromptParts:
    message: str
    memories: Sequence[RecalledMemory]  # best first: fitting drops from the end
    history: Sequence[ChatMessage] = ()


@dataclass(frozen=True)
class CallRecord:
    """One backend call, as the router_calls table stores it."""

    route: str
    reason: str
    backend: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    ttft_ms: int | None
    latency_ms: int
    cost: float
    fallback_from: str | None
    error: str | None


@dataclass(frozen=True)
class Routed:
    completion: Completion
    route: str
    reason: str
    backend: str
    memories: list[RecalledMemory]  # those that fitted into the prompt
    ttft_ms: int
    latency_ms: int
    cost: float
    calls: list[CallRecord] = field(default_factory=list)


class _Timeout(BackendUnavailable):
    pass


class RouterError(ModelError):
    """Every route of the chain failed (or one failed mid-stream); calls says how.

    overloaded: every backend tried was only busy (queue full), so the client should retry
    later (429) rather than treat the service as down (503)."""

    def __init__(self, message: str, calls: list[CallRecord], *, overloaded: bool = False) -> None:
        super().__init__(message)
        self.calls = calls
        self.overloaded = overloaded


def _ms(start: float) -> int:
    return round((time.perf_counter() - start) * 1000)


class Router:
    def __init__(
        self,
        config: RouterConfig,
        backends: dict[str, ChatBackend],
        *,
        default_max_tokens: int,
        temperature: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        missing = set(config.backends) - set(backends)
        if missing:
            raise ValueError(f"no backend instance for {sorted(missing)}")
        self.config = config
        self.backends = backends
        self.default_max_tokens = default_max_tokens
        self.temperature = temperature
        self._sleep = sleep
        self.breakers = {
            name: CircuitBreaker(config.breaker.failures, config.breaker.open_s, clock) for name in config.backends
        }

    def decide(self, f: Features, requested: str | None = None) -> tuple[str, str]:
        if requested is not None:
            if requested not in self.config.routes:
                raise KeyError(f"unknown model {requested!r}; known: {sorted(self.config.routes)}")
            return requested, "requested"
        return decide(self.config.policy, f)

    def max_tokens(self, route: RouteConfig) -> int:
        return route.max_tokens or self.default_max_tokens

    def fit(self, route_name: str, parts: PromptParts) -> tuple[list[ChatMessage], list[RecalledMemory]]:
        """Drop the lowest-ranked memories, then the oldest history, until the prompt leaves room
        for the reply; never return a prompt over the window."""
        route = self.config.routes[route_name]
        backend = self.backends[route.backend]
        budget = route.context_tokens - self.max_tokens(route)
        memories, history = list(parts.memories), list(parts.history)
        while True:
            messages = build_messages(parts.message, memories, history)
            if backend.count_tokens(messages) <= budget:
                return messages, memories
            if memories:
                memories.pop()
            elif history:
                del history[: 2 if len(history) > 1 else 1]
            else:
                raise ContextOverflow(
                    f"the message alone exceeds route {route_name!r}'s budget of {budget} prompt tokens"
                )

    async def stream(
        self, parts: PromptParts, f: Features, *, requested: str | None = None
    ) -> AsyncIterator[str | Routed]:
        """Text deltas, then one Routed. Raises RouterError when nothing could answer."""
        first, reason = self.decide(f, requested)
        metrics.ROUTE_CHOICES.labels(first, reason).inc()
        calls: list[CallRecord] = []
        errors: list[str] = []
        only_busy = True  # every failure so far was a full queue
        for route_name in self.config.chain(first):
            route = self.config.routes[route_name]
            breaker = self.breakers[route.backend]
            fallback_from = None if route_name == first else first
            for attempt in range(route.retry.attempts):
                try:
                    messages, kept = self.fit(route_name, parts)
                except ContextOverflow as exc:
                    errors.append(f"{route_name}: {exc}")
                    only_busy = False
                    break
                if not breaker.allow():
                    errors.append(f"{route_name}: circuit open")
                    only_busy = False
                    break
                started = time.perf_counter()
                ttft: int | None = None
                gen = Generation(
                    max_tokens=self.max_tokens(route), temperature=self.temperature,
                    model=route.model, timeout_s=route.timeout_s,
                )
                completion: Completion | None = None
                pieces = self.backends[route.backend].stream(messages, gen)
                try:
                    while True:
                        try:
                            item = await asyncio.wait_for(anext(pieces), route.timeout_s)
                        except StopAsyncIteration:
                            break
                        except TimeoutError as exc:
                            raise _Timeout(f"{route_name}: no token within {route.timeout_s}s") from exc
                        if isinstance(item, Completion):
                            completion = item
                        else:
                            if ttft is None:
                                ttft = _ms(started)
                            yield item
                    if completion is None:
                        raise ModelError(f"{route_name}: the backend ended without a completion")
                except ModelError as exc:
                    retryable = exc.retryable
                    # Retryable errors say the backend is unwell; others (a 4xx, a full queue)
                    # come from a backend that answered, so they count as alive.
                    if retryable:
                        breaker.failure()
                    else:
                        breaker.success()
                    calls.append(self._record(route_name, reason, route, None, ttft, started, fallback_from, exc))
                    errors.append(f"{route_name}: {exc}")
                    only_busy = only_busy and isinstance(exc, Overloaded)
                    if ttft is not None:
                        raise RouterError(f"{route_name} failed mid-stream: {exc}", calls) from exc
                    if retryable and attempt + 1 < route.retry.attempts:
                        await self._sleep(route.retry.backoff_s * 2**attempt)
                        continue
                    break
                finally:
                    await pieces.aclose()
                breaker.success()
                record = self._record(route_name, reason, route, completion, ttft, started, fallback_from, None)
                calls.append(record)
                yield Routed(
                    completion=completion, route=route_name, reason=reason, backend=route.backend, memories=kept,
                    ttft_ms=ttft if ttft is not None else record.latency_ms, latency_ms=record.latency_ms,
                    cost=record.cost, calls=calls,
                )
                return
        raise RouterError("no backend could answer: " + "; ".join(errors), calls, overloaded=only_busy and bool(errors))

    async def complete(self, parts: PromptParts, f: Features, *, requested: str | None = None) -> Routed:
        async for item in self.stream(parts, f, requested=requested):
            if isinstance(item, Routed):
                return item
        raise AssertionError("Router.stream ended without a result")

    def _record(self, route_name, reason, route, completion, ttft, started, fallback_from, exc) -> CallRecord:
        pt = completion.prompt_tokens if completion else 0
        ct = completion.completion_tokens if completion else 0
        record = CallRecord(
            route=route_name, reason=reason, backend=route.backend,
            model=completion.model if completion else route.model,
            prompt_tokens=pt, completion_tokens=ct, ttft_ms=ttft, latency_ms=_ms(started),
            cost=pt / 1000 * route.cost_per_1k_input + ct / 1000 * route.cost_per_1k_output,
            fallback_from=fallback_from, error=None if exc is None else f"{type(exc).__name__}: {exc}"[:500],
        )
        metrics.observe_call(record)
        return record
