"""Users and their memories."""

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from memory_service.api.deps import RuntimeDep
from memory_service.memory.store import list_memories
from memory_service.users import create_user, get_user

router = APIRouter(prefix="/v1/users", tags=["users"])


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=200)


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str | None
    created_at: datetime


class MemoryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    text: str
    role: str
    created_at: datetime
    emotions: dict[str, Any] | None
    ekman_label: str | None
    valence: float | None
    arousal: float | None
    intensity: float | None
    importance: float
    recall_count: int
    last_recalled_at: datetime | None


@router.post("", status_code=201, response_model=UserPublic)
def post_user(runtime: RuntimeDep, body: UserCreate | None = None) -> UserPublic:
    with runtime.db.transaction() as session:
        user = create_user(session, name=body.name if body else None)
        session.refresh(user)
        return UserPublic.model_validate(user)


@router.get("/{user_id}/memories", response_model=list[MemoryPublic])
def get_memories(
    runtime: RuntimeDep,
    user_id: uuid.UUID,
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0),
) -> list[MemoryPublic]:
    with runtime.db.transaction() as session:
        get_user(session, user_id)
        return [MemoryPublic.model_validate(m) for m in list_memories(session, user_id, limit=limit, offset=offset)]
