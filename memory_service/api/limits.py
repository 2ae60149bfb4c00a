"""Refuse oversized (413) and non-UTF-8 JSON (422) request bodies before anything parses them.

Bodies are read here in full (they are at most MEMORY_SERVICE_MAX_BODY_BYTES), since errors raised
while the app reads its body would become FastAPI's generic 400s."""

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

BODYLESS = ("GET", "HEAD", "DELETE", "OPTIONS")


async def _answer(send: Send, status: int, detail) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def replaying(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the body a middleware already read, then the live channel
    (for the disconnect message)."""
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


class BodyGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in BODYLESS:
            await self.app(scope, receive, send)
            return
        limit = scope["app"].state.runtime.settings.max_body_bytes
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _answer(send, 413, f"request body larger than {limit} bytes")
            return

        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:  # chunked uploads have no Content-Length to check up front
                await _answer(send, 413, f"request body larger than {limit} bytes")
                return
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        if b"json" in headers.get(b"content-type", b""):
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as exc:
                await _answer(send, 422, [{"loc": ["body"], "type": "unicode_error",
                                           "msg": f"the body is not valid UTF-8 (byte {exc.start})"}])
                return

        await self.app(scope, replaying(body, receive), send)
