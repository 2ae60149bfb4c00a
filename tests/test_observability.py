"""Metrics, request ids, JSON logs, liveness and readiness, through the real app."""

import dataclasses
import json
import logging

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from memory_service.api.app import create_app
from memory_service.llm.router import CallRecord, Router
from memory_service.observability.logs import JsonFormatter, RequestIdFilter, request_id_var
from memory_service.observability.metrics import FALLBACKS, exposition, observe_call
from tests.test_faults import BrokenModel


def parse(exposition_text: str) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(exposition_text)
        for s in family.samples
    }


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def value(samples: dict, name: str, **labels) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    return sum(v for (n, ls), v in samples.items() if n == name and labels.items() <= dict(ls).items())


def test_chat_turn_moves_the_metrics(client, user_id) -> None:
    before = scrape(client)
    response = client.post("/v1/chat", json={"user_id": user_id, "message": "I started learning the cello."})
    assert response.status_code == 200
    after = scrape(client)

    def grew(name: str, **labels) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # Request latency per route template (not per raw path), with the status.
    assert grew("memory_service_http_request_duration_seconds_count", route="/v1/chat", method="POST", status="200") == 1
    assert value(after, "memory_service_http_request_duration_seconds_bucket", route="/v1/chat", le="+Inf") >= 1
    # Whatever policy and route this user's experiment arm and message get (other tests may set arms).
    assert grew("memory_service_retrieval_duration_seconds_count", strategy="exact") == 1
    assert grew("memory_service_route_choices_total") == 1
    assert grew("memory_service_llm_calls_total", backend="local", outcome="ok") == 1
    assert grew("memory_service_llm_tokens_total", backend="local", kind="prompt") > 10
    assert grew("memory_service_llm_tokens_total", backend="local", kind="completion") >= 1
    # The prompt cache was consulted once for the turn.
    assert grew("memory_service_prompt_cache_total", backend="local") == 1
    # State gauges, read from the runtime at scrape time.
    assert value(after, "memory_service_breaker_state", backend="local", state="closed") == 1
    assert value(after, "memory_service_breaker_state", backend="local", state="open") == 0
    assert value(after, "memory_service_backend_queue_depth", backend="local") == 0


def test_fallbacks_and_open_breakers_are_counted(runtime) -> None:
    before = FALLBACKS.labels("careful", "small")._value.get()
    observe_call(CallRecord("small", "emotional", "local", "m", 5, 2, 10, 20, 0.0, "careful", None))
    assert FALLBACKS.labels("careful", "small")._value.get() == before + 1

    router = Router(runtime.router.config, {"local": BrokenModel()}, default_max_tokens=4, temperature=0.0)
    for _ in range(router.config.breaker.failures):  # consecutive failures open the circuit
        router.breakers["local"].failure()
    samples = parse(exposition(dataclasses.replace(runtime, router=router)).decode())
    assert value(samples, "memory_service_breaker_state", backend="local", state="open") == 1
    assert value(samples, "memory_service_breaker_state", backend="local", state="closed") == 0


def test_request_id_is_returned_and_honoured(client, caplog) -> None:
    generated = client.get("/healthz")
    assert len(generated.headers["X-Request-ID"]) == 32
    assert client.get("/healthz").headers["X-Request-ID"] != generated.headers["X-Request-ID"]

    with caplog.at_level(logging.INFO, logger="memory_service.access"):
        echoed = client.get("/readyz", headers={"X-Request-ID": "req-abc.123"})
    assert echoed.headers["X-Request-ID"] == "req-abc.123"
    # A forged id (spaces, newlines, too long) is replaced, not echoed into logs.
    assert client.get("/healthz", headers={"X-Request-ID": "x\" y"}).headers["X-Request-ID"] != 'x" y'

    access = [r for r in caplog.records if r.name == "memory_service.access" and r.request_id == "req-abc.123"]
    assert len(access) == 1
    line = json.loads(JsonFormatter().format(access[0]))
    assert line["request_id"] == "req-abc.123" and line["status"] == 200
    assert line["route"] == "/readyz" and line["method"] == "GET" and line["duration_ms"] >= 0
    assert line["level"] == "INFO" and line["logger"] == "memory_service.access"


def test_log_lines_inside_a_request_carry_its_id() -> None:
    record = logging.LogRecord("memory_service.chat", logging.WARNING, __file__, 1, "model slow: %s ms", (900,), None)
    token = request_id_var.set("r-42")
    try:
        RequestIdFilter().filter(record)
    finally:
        request_id_var.reset(token)
    line = json.loads(JsonFormatter().format(record))
    assert line == {**line, "message": "model slow: 900 ms", "request_id": "r-42", "level": "WARNING"}


def test_liveness_and_readiness(client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok", "database": "ok", "model": "ok", "router": "ok"}


def test_readiness_fails_when_every_backend_of_the_default_chain_is_open(runtime, auth_headers) -> None:
    router = Router(runtime.router.config, dict(runtime.router.backends), default_max_tokens=4, temperature=0.0)
    for _ in range(router.config.breaker.failures):
        router.breakers["local"].failure()
    with TestClient(create_app(dataclasses.replace(runtime, router=router)), headers=auth_headers) as client:
        assert client.get("/healthz").status_code == 200  # alive all the same
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["router"] == "down" and ready.json()["database"] == "ok"
