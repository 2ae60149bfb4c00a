"""Users of a companion app: create, read, erase (DELETE) and export, within the key's app."""

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from memory_service.api.auth import ActingUser, PrincipalDep
from memory_service.api.deps import RuntimeDep
from memory_service.api.text import ShortText
from memory_service.db.models import User
from memory_service.db.scope import Scope, set_scope
from memory_service.privacy import erase_user, export_user
from memory_service.users import create_user, get_user

router = APIRouter(prefix="/v1/users", tags=["users"])


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: ShortText | None = Field(default=None, max_length=200)


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str | None
    created_at: datetime


class UserExport(BaseModel):
    """Every row stored about the user; embeddings included unless ?embeddings=false."""

    user: dict[str, Any]
    conversations: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    memories: list[dict[str, Any]]
    events: list[dict[str, Any]]
    experiment_assignments: list[dict[str, Any]]
    router_calls: list[dict[str, Any]]


@router.post("", status_code=201, response_model=UserPublic)
def post_user(runtime: RuntimeDep, principal: PrincipalDep, request: Request, body: UserCreate | None = None) -> UserPublic:
    user_id = uuid.uuid4()
    scope = Scope(principal.app_id, user_id)
    set_scope(scope)  # the new user's own scope: its user_created event is its row
    with runtime.db.transaction() as session:
        user: User = create_user(session, name=body.name if body else None, app_id=principal.app_id, user_id=user_id)
        session.flush()
        session.refresh(user)
        public = UserPublic.model_validate(user)
    request.state.acting_user = user_id
    return public


@router.get("/{user_id}", response_model=UserPublic)
def read_user(runtime: RuntimeDep, user_id: ActingUser) -> UserPublic:
    with runtime.db.transaction() as session:
        return UserPublic.model_validate(get_user(session, user_id))


@router.delete("/{user_id}", status_code=204)
async def delete_user(runtime: RuntimeDep, principal: PrincipalDep, user_id: ActingUser) -> Response:
    """Erase the user: messages, memories and embeddings, conversations, router logs and stored
    responses; events deleted or pseudonymized (MEMORY_SERVICE_ERASE_EVENTS)."""

    def erase() -> None:
        with runtime.db.transaction(scope=None) as session:  # owner: see memory_service/privacy.py
            erase_user(session, user_id, principal.app_id, events=runtime.settings.erase_events)

    await run_in_threadpool(erase)
    return Response(status_code=204)


@router.get("/{user_id}/export", response_model=UserExport)
def export(runtime: RuntimeDep, user_id: ActingUser, embeddings: bool = Query(default=True)) -> UserExport:
    with runtime.db.transaction() as session:
        return UserExport.model_validate(export_user(session, user_id, embeddings=embeddings))
