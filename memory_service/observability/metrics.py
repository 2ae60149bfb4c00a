"""Prometheus metrics. Counters and histograms live in the process-wide registry and are updated
where things happen; gauges that describe the runtime's state (breakers, queues, caches) are read
at scrape time from the runtime, so nothing needs to keep them in sync."""

from collections.abc import Iterator

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

# Sub-millisecond to a minute: health checks, ranking queries and whole chat turns share one scale.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
BREAKER_STATES = ("closed", "half_open", "open")

REQUEST_LATENCY = Histogram(
    "memory_service_http_request_duration_seconds", "HTTP request latency, until the last body byte.",
    ("method", "route", "status"), buckets=LATENCY_BUCKETS,
)
RETRIEVAL_LATENCY = Histogram(
    "memory_service_retrieval_duration_seconds", "Ranking query latency (embedding excluded).",
    ("policy", "strategy"), buckets=LATENCY_BUCKETS,
)
ROUTE_CHOICES = Counter("memory_service_route_choices_total", "Routes picked by the router.", ("route", "reason"))
LLM_CALLS = Counter("memory_service_llm_calls_total", "Backend calls made by the router.", ("route", "backend", "outcome"))
LLM_TOKENS = Counter("memory_service_llm_tokens_total", "Tokens through the router.", ("route", "backend", "kind"))
FALLBACKS = Counter("memory_service_router_fallbacks_total", "Calls served by a fallback route.", ("from_route", "route"))


def observe_call(record) -> None:
    """One router CallRecord (memory_service.llm.router), failed or not."""
    LLM_CALLS.labels(record.route, record.backend, "error" if record.error else "ok").inc()
    LLM_TOKENS.labels(record.route, record.backend, "prompt").inc(record.prompt_tokens)
    LLM_TOKENS.labels(record.route, record.backend, "completion").inc(record.completion_tokens)
    if record.fallback_from is not None:
        FALLBACKS.labels(record.fallback_from, record.route).inc()


class RuntimeCollector(Collector):
    """Breaker state, queue depth and prompt-cache hits of one runtime's backends, read at scrape."""

    def __init__(self, runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator:
        router = self.runtime.router
        backends = router.backends if router is not None else {"local": self.runtime.llm}
        state = GaugeMetricFamily("memory_service_breaker_state", "1 for the backend's current circuit state.",
                                  labels=("backend", "state"))
        queue = GaugeMetricFamily("memory_service_backend_queue_depth", "Calls admitted and not finished.",
                                  labels=("backend",))
        cache = CounterMetricFamily("memory_service_prompt_cache", "Prompt prefix-state cache lookups.",
                                    labels=("backend", "result"))
        for name, backend in backends.items():
            breaker = router.breakers.get(name) if router is not None else None
            current = breaker.state if breaker is not None else "closed"
            for s in BREAKER_STATES:
                state.add_metric([name, s], float(s == current))
            depth = getattr(backend, "queue_depth", None)
            if depth is not None:
                queue.add_metric([name], float(depth))
            prompt_cache = getattr(backend, "cache", None)
            if prompt_cache is not None:
                cache.add_metric([name, "hit"], float(prompt_cache.hits))
                cache.add_metric([name, "miss"], float(prompt_cache.misses))
        yield from (state, queue, cache)


def exposition(runtime) -> bytes:
    """The process-wide metrics plus this runtime's state, in Prometheus text format."""
    local = CollectorRegistry(auto_describe=False)
    local.register(RuntimeCollector(runtime))
    return generate_latest(REGISTRY) + generate_latest(local)
