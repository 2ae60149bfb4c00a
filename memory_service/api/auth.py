"""Who is calling: an app's API key (Authorization: Bearer, or X-API-Key), acting for one of the
app's users; or the admin key, for /v1/admin. Both are rate limited per key and per user.

`authenticate` scopes the request to the key's tenant and `act_as` to one user of it (see
db/scope.py): every transaction the request opens from then on runs under row-level security.
Another tenant's user answers 404, exactly like a user that does not exist."""

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from memory_service.api.deps import RuntimeDep
from memory_service.config import Settings
from memory_service.db.models import User
from memory_service.db.scope import Scope, set_scope
from memory_service.errors import NotFound
from memory_service.keys import find_active_key, same_secret
from memory_service.ratelimit import RateLimited, TokenBucket
from memory_service.runtime import Runtime

_bearer = HTTPBearer(auto_error=False, description="An app's API key (`memory-service keys create --app NAME`).")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The same key, for clients without Bearer.")


@dataclass(frozen=True)
class Principal:
    key_id: uuid.UUID
    app_id: uuid.UUID


@dataclass
class Limiters:
    per_key: TokenBucket
    per_user: TokenBucket

    @classmethod
    def from_settings(cls, settings: Settings) -> "Limiters":
        return cls(
            TokenBucket(settings.rate_limit_key_per_minute, settings.rate_limit_key_burst),
            TokenBucket(settings.rate_limit_user_per_minute, settings.rate_limit_user_burst),
        )


def limiters(request: Request) -> Limiters:
    state = request.app.state
    if getattr(state, "limiters", None) is None:
        state.limiters = Limiters.from_settings(state.runtime.settings)
    return state.limiters


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status_code=401, detail=message, headers={"WWW-Authenticate": "Bearer"})


def _presented(bearer: HTTPAuthorizationCredentials | None, header: str | None) -> str:
    key = bearer.credentials if bearer is not None else header
    if not key:
        raise _unauthorized("missing API key: send `Authorization: Bearer <key>` or `X-API-Key: <key>`")
    return key


def _lookup(runtime: Runtime, key: str) -> Principal | None:
    with runtime.db.transaction(scope=None) as session:  # before any scope: keys are the owner's
        row = find_active_key(session, key)
        return Principal(key_id=row.id, app_id=row.app_id) if row else None


async def authenticate(
    request: Request,
    runtime: RuntimeDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> Principal:
    key = _presented(bearer, header)
    if not key.isascii() or len(key) > 200:
        raise _unauthorized("invalid API key")
    principal = await run_in_threadpool(_lookup, runtime, key)
    if principal is None:
        raise _unauthorized("invalid or revoked API key")
    wait = limiters(request).per_key.take(f"key:{principal.key_id}")
    if wait:
        raise RateLimited("API key", wait)
    set_scope(Scope(principal.app_id))
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(authenticate)]


def _check_user(runtime: Runtime, scope: Scope, user_id: uuid.UUID) -> None:
    with runtime.db.transaction(scope=scope) as session:
        found = session.scalar(select(User.id).where(User.id == user_id, User.app_id == scope.tenant_id))
    if found is None:
        raise NotFound(f"user {user_id} not found")


async def act_as(request: Request, runtime: Runtime, principal: Principal, user_id: uuid.UUID) -> uuid.UUID:
    """Scope the rest of the request to this user of the key's app (404 for anyone else's)."""
    scope = Scope(principal.app_id, user_id)
    await run_in_threadpool(_check_user, runtime, scope, user_id)
    wait = limiters(request).per_user.take(f"user:{user_id}")
    if wait:
        raise RateLimited("user", wait)
    set_scope(scope)
    request.state.acting_user = user_id  # the idempotency middleware files the response under it
    return user_id


async def acting_user(request: Request, runtime: RuntimeDep, principal: PrincipalDep, user_id: uuid.UUID) -> uuid.UUID:
    return await act_as(request, runtime, principal, user_id)


# For routes under /v1/users/{user_id}: the path's user, checked and scoped.
ActingUser = Annotated[uuid.UUID, Depends(acting_user)]


async def require_admin(
    runtime: RuntimeDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> None:
    """The admin key (MEMORY_SERVICE_ADMIN_KEY) guards analytics, experiments and key management."""
    expected = runtime.settings.admin_key
    if expected is None:
        raise HTTPException(status_code=403, detail="admin routes are disabled: set MEMORY_SERVICE_ADMIN_KEY")
    if not same_secret(_presented(bearer, header), expected.get_secret_value()):
        raise _unauthorized("invalid admin key")


AdminDep = Depends(require_admin)


def install(app: FastAPI) -> None:
    @app.exception_handler(RateLimited)
    async def rate_limited(_: Request, exc: RateLimited) -> JSONResponse:
        return JSONResponse(
            status_code=429, content={"detail": str(exc)}, headers={"Retry-After": str(exc.retry_after_s)}
        )
