"""Key management for operators, behind the admin key: create, list and revoke apps' API keys."""

import uuid
from datetime import datetime

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from memory_service.api.auth import require_admin
from memory_service.api.deps import RuntimeDep
from memory_service.api.text import UserText
from memory_service.db.models import App
from memory_service.keys import create_key, list_keys, revoke_key

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Depends(require_admin)])


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    app: UserText = Field(max_length=200, description="The app (tenant); created on its first key.")


class KeyPublic(BaseModel):
    id: uuid.UUID
    app_id: uuid.UUID
    app: str
    prefix: str
    created_at: datetime | None = None
    revoked_at: datetime | None = None


class KeyCreated(KeyPublic):
    key: str = Field(description="Shown once; only its hash is stored.")


@router.post("/keys", status_code=201, response_model=KeyCreated)
def post_key(runtime: RuntimeDep, body: KeyCreate) -> KeyCreated:
    with runtime.db.transaction(scope=None) as session:
        new = create_key(session, body.app)
    return KeyCreated(id=new.id, app_id=new.app_id, app=new.app_name, prefix=new.prefix, key=new.key)


@router.get("/keys", response_model=list[KeyPublic])
def get_keys(runtime: RuntimeDep, app: str | None = Query(default=None, max_length=200)) -> list[KeyPublic]:
    with runtime.db.transaction(scope=None) as session:
        return [
            KeyPublic(id=k.id, app_id=k.app_id, app=name, prefix=k.prefix, created_at=k.created_at,
                      revoked_at=k.revoked_at)
            for k, name in list_keys(session, app)
        ]


@router.delete("/keys/{key_id}", response_model=KeyPublic)
def delete_key(runtime: RuntimeDep, key_id: uuid.UUID) -> KeyPublic:
    with runtime.db.transaction(scope=None) as session:
        k = revoke_key(session, key_id)
        return KeyPublic(id=k.id, app_id=k.app_id, app=session.get(App, k.app_id).name, prefix=k.prefix,
                         created_at=k.created_at, revoked_at=k.revoked_at)
