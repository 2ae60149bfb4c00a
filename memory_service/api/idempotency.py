"""Idempotency-Key on POST: a retried request gets the first answer, not a second effect.

The first request claims (app, key) in idempotent_responses, runs, and stores its answer when it
succeeds (2xx); a failed one releases the claim, so a retry runs it again (a chat turn that fails
stores nothing, so nothing is doubled). A retry while the first still runs answers 409; a key
reused for a different request, 422. Claims left by a crashed process expire after
MEMORY_SERVICE_IDEMPOTENCY_PENDING_S. Keys are per app: two apps never see each other's."""

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memory_service.api.limits import replaying
from memory_service.db.database import Database
from memory_service.db.models import IdempotentResponse
from memory_service.keys import find_active_key

HEADER = b"idempotency-key"
MAX_KEY_CHARS = 200

Claim = Literal["run", "replay", "mismatch", "in_progress"]


def _app_of(db: Database, api_key: str) -> uuid.UUID | None:
    with db.transaction(scope=None) as session:
        row = find_active_key(session, api_key)
        return row.app_id if row else None


def claim(
    db: Database, app_id: uuid.UUID, key: str, method: str, path: str, request_hash: str, pending_s: int
) -> tuple[Claim, IdempotentResponse | None]:
    with db.transaction(scope=None) as session:
        inserted = session.scalar(
            insert(IdempotentResponse)
            .values(app_id=app_id, key=key, method=method, path=path, request_hash=request_hash)
            .on_conflict_do_nothing()
            .returning(IdempotentResponse.key)
        )
        if inserted is not None:
            return "run", None
        row = session.scalars(
            select(IdempotentResponse)
            .where(IdempotentResponse.app_id == app_id, IdempotentResponse.key == key)
            .with_for_update()
        ).first()
        if row is None:  # released between the insert and the select: claim it next time
            return "in_progress", None
        if row.request_hash != request_hash:
            return "mismatch", None
        if row.status_code is not None:
            return "replay", row
        if datetime.now(UTC) - row.created_at > timedelta(seconds=pending_s):
            row.created_at = datetime.now(UTC)  # the first holder died: take its claim over
            return "run", None
        return "in_progress", None


def complete(
    db: Database, app_id: uuid.UUID, key: str, status: int, content_type: str | None, body: bytes,
    user_id: uuid.UUID | None,
) -> None:
    with db.transaction(scope=None) as session:
        row = session.get(IdempotentResponse, (app_id, key))
        if row is not None:
            row.status_code, row.content_type, row.body = status, content_type, body
            row.user_id, row.completed_at = user_id, datetime.now(UTC)


def release(db: Database, app_id: uuid.UUID, key: str) -> None:
    with db.transaction(scope=None) as session:
        session.execute(
            delete(IdempotentResponse).where(
                IdempotentResponse.app_id == app_id, IdempotentResponse.key == key,
                IdempotentResponse.status_code.is_(None),
            )
        )


async def _json(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), *headers]})
    await send({"type": "http.response.body", "body": body})


def _api_key(headers: dict[bytes, bytes]) -> str | None:
    auth = headers.get(b"authorization", b"").decode("latin-1")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    key = headers.get(b"x-api-key", b"").decode("latin-1")
    return key or None


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", ())) if scope["type"] == "http" else {}
        if scope["type"] != "http" or scope["method"] != "POST" or HEADER not in headers:
            await self.app(scope, receive, send)
            return
        key = headers[HEADER].decode("latin-1")
        if not (0 < len(key) <= MAX_KEY_CHARS and key.isascii() and key.isprintable()):
            await _json(send, 422, f"Idempotency-Key must be 1 to {MAX_KEY_CHARS} printable ASCII characters")
            return
        runtime = scope["app"].state.runtime
        api_key = _api_key(headers)
        try:
            app_id = await run_in_threadpool(_app_of, runtime.db, api_key) if api_key and api_key.isascii() else None
        except (OperationalError, InterfaceError):
            await _json(send, 503, "database unavailable; nothing was stored, retry shortly", [(b"retry-after", b"5")])
            return
        if app_id is None:  # the route answers 401
            await self.app(scope, receive, send)
            return

        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        body = b"".join(chunks)
        path = scope["path"]
        digest = hashlib.sha256(
            b"\0".join([scope["method"].encode(), path.encode(), scope.get("query_string", b""), body])
        ).hexdigest()
        try:
            outcome, row = await run_in_threadpool(
                claim, runtime.db, app_id, key, scope["method"], path, digest, runtime.settings.idempotency_pending_s
            )
        except (OperationalError, InterfaceError):
            await _json(send, 503, "database unavailable; nothing was stored, retry shortly", [(b"retry-after", b"5")])
            return
        if outcome == "mismatch":
            await _json(send, 422, "this Idempotency-Key was already used for a different request")
            return
        if outcome == "in_progress":
            await _json(send, 409, "a request with this Idempotency-Key is still running", [(b"retry-after", b"1")])
            return
        if outcome == "replay":
            replay_headers = [(b"idempotent-replayed", b"true")]
            if row.content_type:
                replay_headers.append((b"content-type", row.content_type.encode("latin-1")))
            await send({"type": "http.response.start", "status": row.status_code, "headers": replay_headers})
            await send({"type": "http.response.body", "body": row.body or b""})
            return

        status = 500
        content_type: str | None = None
        sent: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                content_type = dict(message.get("headers", ())).get(b"content-type", b"").decode("latin-1") or None
            elif message["type"] == "http.response.body":
                sent.append(message.get("body", b""))
            await send(message)

        scope.setdefault("state", {})
        try:
            await self.app(scope, replaying(body, receive), capture)
        except BaseException:
            await run_in_threadpool(release, runtime.db, app_id, key)
            raise
        if 200 <= status < 300:
            user_id = scope["state"].get("acting_user")
            await run_in_threadpool(complete, runtime.db, app_id, key, status, content_type, b"".join(sent), user_id)
        else:
            await run_in_threadpool(release, runtime.db, app_id, key)
