"""Who a transaction acts for: the second wall behind every query's own user filter.

Request handlers set the scope (tenant, then user) once they have authenticated the key and
checked the user belongs to its app; Database.transaction() then runs as the non-owner role
APP_ROLE with app.tenant_id / app.user_id set, so row-level security (migration 0006) shows only
those rows. The scope lives in a context variable: it follows the request into the thread pool
and into the tasks it starts, and code outside a request (CLI, analytics, migrations) has none,
so it runs as the owner."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

APP_ROLE = "memory_service_app"


@dataclass(frozen=True)
class Scope:
    tenant_id: uuid.UUID
    user_id: uuid.UUID | None = None

    def for_user(self, user_id: uuid.UUID) -> "Scope":
        return Scope(self.tenant_id, user_id)


_current: ContextVar[Scope | None] = ContextVar("memory_service_scope", default=None)


def current_scope() -> Scope | None:
    return _current.get()


def set_scope(scope: Scope | None) -> None:
    """For the rest of this request (its context); request handlers call it after authenticating."""
    _current.set(scope)


@contextmanager
def scoped(scope: Scope | None) -> Iterator[None]:
    """The scope for a block only (scripts, tests, the service's own checks)."""
    token = _current.set(scope)
    try:
        yield
    finally:
        _current.reset(token)
