"""POST /v1/chat: one turn with memory."""

import uuid

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field, field_validator

from memory_service.api.deps import RuntimeDep
from memory_service.api.errors import field_error
from memory_service.chat import chat_turn

router = APIRouter(prefix="/v1", tags=["chat"])


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: uuid.UUID
    message: str = Field(min_length=1)
    conversation_id: uuid.UUID | None = None

    @field_validator("message")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("message must not be blank")
        if "\x00" in value:
            raise ValueError("message must not contain NUL bytes")
        return value


class MemoryUsed(BaseModel):
    id: uuid.UUID
    text: str
    score: float


class ChatResponse(BaseModel):
    reply: str
    conversation_id: uuid.UUID
    memories_used: list[MemoryUsed]
    model: str
    latency_ms: int


@router.post("/chat", response_model=ChatResponse)
def post_chat(runtime: RuntimeDep, body: ChatRequest) -> ChatResponse:
    limit = runtime.settings.max_message_chars
    if len(body.message) > limit:
        raise HTTPException(
            status_code=422,
            detail=field_error("message", f"message is longer than {limit} characters", "string_too_long"),
        )
    turn = chat_turn(runtime, body.user_id, body.message, body.conversation_id)
    return ChatResponse(
        reply=turn.reply,
        conversation_id=turn.conversation_id,
        memories_used=[MemoryUsed(id=m.id, text=m.text, score=round(m.score, 4)) for m in turn.memories_used],
        model=turn.model,
        latency_ms=turn.latency_ms,
    )
