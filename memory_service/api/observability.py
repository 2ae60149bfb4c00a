"""Request ids, access logs and latency histograms for every request, as one ASGI middleware
(pure ASGI, so streamed responses are timed until their last byte and nothing is buffered)."""

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memory_service.observability.logs import request_id, request_id_var
from memory_service.observability.metrics import REQUEST_LATENCY

log = logging.getLogger("memory_service.access")
HEADER = "X-Request-ID"


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), None)
        rid = request_id(incoming)
        token = request_id_var.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"  # the template, not the raw path
            REQUEST_LATENCY.labels(scope["method"], route, str(status)).observe(elapsed)
            log.info(
                "%s %s %s", scope["method"], scope["path"], status,
                extra={"method": scope["method"], "path": scope["path"], "route": route, "status": status,
                       "duration_ms": round(elapsed * 1000, 2), "request_id": rid},
            )
            request_id_var.reset(token)
