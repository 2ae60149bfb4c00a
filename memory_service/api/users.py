"""Users of a companion app."""

import uuid
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from memory_service.api.deps import RuntimeDep
from memory_service.users import create_user

router = APIRouter(prefix="/v1/users", tags=["users"])


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=200)


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str | None
    created_at: datetime


@router.post("", status_code=201, response_model=UserPublic)
def post_user(runtime: RuntimeDep, body: UserCreate | None = None) -> UserPublic:
    with runtime.db.transaction() as session:
        user = create_user(session, name=body.name if body else None)
        session.refresh(user)
        return UserPublic.model_validate(user)
