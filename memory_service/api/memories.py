"""A user's memories: list, add (with an event time, for imported history), read, edit, delete, search."""

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, BackgroundTasks, HTTPException, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from memory_service.api.auth import ActingUser
from memory_service.api.deps import RuntimeDep
from memory_service.api.errors import field_error
from memory_service.api.text import ShortText, UserText, check_length
from memory_service.memory.ranking import RankQuery, rank
from memory_service.memory.store import delete_memory, edit_memory, get_memory, list_memories, mark_recalled, remember
from memory_service.runtime import Runtime
from memory_service.users import get_user

router = APIRouter(prefix="/v1/users/{user_id}/memories", tags=["memories"])


class MemoryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: UserText
    speaker: ShortText | None = Field(default=None, max_length=200)
    created_at: datetime | None = Field(default=None, description="Event time; defaults to now.")


class MemoryEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: UserText


class MemorySearch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: UserText
    k: int | None = Field(default=None, ge=1, le=100, description="Defaults to the policy's top_k.")
    policy: str | None = Field(default=None, description="A memory policy name; defaults to the configured default.")


class MemoryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    text: str
    role: str
    speaker: str | None
    created_at: datetime
    emotions: dict[str, Any] | None
    ekman_label: str | None
    valence: float | None
    arousal: float | None
    intensity: float | None
    importance: float
    mentions: int
    recall_count: int
    last_recalled_at: datetime | None


class MemoryWritten(MemoryPublic):
    merged: bool = Field(description="True when this text strengthened an existing near-duplicate.")


class MemoryHit(BaseModel):
    id: uuid.UUID
    text: str
    speaker: str | None
    created_at: datetime
    score: float
    components: dict[str, float]


class SearchResult(BaseModel):
    policy: str
    memories: list[MemoryHit]


def _default_policy(runtime: Runtime):
    return runtime.policies.get(runtime.policies.default)


@router.get("", response_model=list[MemoryPublic])
def list_user_memories(
    runtime: RuntimeDep,
    user_id: ActingUser,
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0),
) -> list[MemoryPublic]:
    with runtime.db.transaction() as session:
        get_user(session, user_id)
        return [MemoryPublic.model_validate(m) for m in list_memories(session, user_id, limit=limit, offset=offset)]


@router.post("", status_code=201, response_model=MemoryWritten)
def add_memory(runtime: RuntimeDep, user_id: ActingUser, body: MemoryCreate) -> MemoryWritten:
    check_length("text", body.text, runtime.settings.max_message_chars)
    encoded = runtime.embedder.encode_one(body.text)
    with runtime.db.transaction() as session:
        get_user(session, user_id)
        memory, created = remember(
            session,
            user_id=user_id,
            text=body.text,
            speaker=body.speaker,
            embedding=encoded.embedding,
            tags=encoded.tags,
            created_at=body.created_at,
            dedupe_threshold=_default_policy(runtime).dedupe_threshold,
        )
        session.refresh(memory)
        return MemoryWritten.model_validate({**MemoryPublic.model_validate(memory).model_dump(), "merged": not created})


@router.get("/{memory_id}", response_model=MemoryPublic)
def read_memory(runtime: RuntimeDep, user_id: ActingUser, memory_id: uuid.UUID) -> MemoryPublic:
    with runtime.db.transaction() as session:
        return MemoryPublic.model_validate(get_memory(session, user_id, memory_id))


@router.patch("/{memory_id}", response_model=MemoryPublic)
def patch_memory(runtime: RuntimeDep, user_id: ActingUser, memory_id: uuid.UUID, body: MemoryEdit) -> MemoryPublic:
    check_length("text", body.text, runtime.settings.max_message_chars)
    encoded = runtime.embedder.encode_one(body.text)
    with runtime.db.transaction() as session:
        memory = get_memory(session, user_id, memory_id)
        edited = edit_memory(session, memory, text=body.text, embedding=encoded.embedding, tags=encoded.tags)
        return MemoryPublic.model_validate(edited)


@router.delete("/{memory_id}", status_code=204)
def remove_memory(runtime: RuntimeDep, user_id: ActingUser, memory_id: uuid.UUID) -> Response:
    with runtime.db.transaction() as session:
        delete_memory(session, user_id, memory_id)
    return Response(status_code=204)


def _record_recall(runtime: Runtime, user_id: uuid.UUID, memory_ids: list[uuid.UUID]) -> None:
    with runtime.db.transaction() as session:
        mark_recalled(session, user_id, memory_ids)


@router.post("/search", response_model=SearchResult)
async def search_memories(
    runtime: RuntimeDep, user_id: ActingUser, body: MemorySearch, background: BackgroundTasks
) -> SearchResult:
    check_length("query", body.query, runtime.settings.max_message_chars)
    try:
        policy = runtime.policies.get(body.policy) if body.policy else _default_policy(runtime)
    except KeyError as exc:
        raise HTTPException(status_code=422, detail=field_error("policy", str(exc.args[0]))) from None
    encoded = await run_in_threadpool(runtime.embedder.encode_one, body.query)

    def ranked():
        with runtime.db.transaction() as session:
            get_user(session, user_id)
            return rank(session, user_id, RankQuery(body.query, encoded.embedding, encoded.tags), policy, k=body.k)

    hits = await run_in_threadpool(ranked)
    # Recall bookkeeping runs after the response is sent: no extra round trip on the response path.
    background.add_task(_record_recall, runtime, user_id, [h.id for h in hits])
    return SearchResult(
        policy=policy.name,
        memories=[
            MemoryHit(
                id=h.id, text=h.text, speaker=h.speaker, created_at=h.created_at, score=round(h.score, 4),
                components=h.components,
            )
            for h in hits
        ],
    )
