"""POST /v1/chat: one turn with memory, as JSON or (with "stream": true) as Server-Sent Events."""

import json
import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict

from memory_service.api.auth import PrincipalDep, act_as
from memory_service.api.deps import RuntimeDep
from memory_service.api.text import UserText, check_length
from memory_service.chat import TurnResult, achat_turn, prepare_turn
from memory_service.chat_stream import stream_turn
from memory_service.llm.base import ModelError

router = APIRouter(prefix="/v1", tags=["chat"])


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: uuid.UUID
    message: UserText
    conversation_id: uuid.UUID | None = None
    stream: bool = False


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


def _memories(turn: TurnResult) -> list[MemoryUsed]:
    return [MemoryUsed(id=m.id, text=m.text, score=round(m.score, 4)) for m in turn.memories_used]


def _sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


async def _events(runtime, body: "ChatRequest") -> AsyncIterator[str]:
    turn = await run_in_threadpool(prepare_turn, runtime, body.user_id, body.message, body.conversation_id)
    yield ": prepared\n\n"  # headers are out; errors from here on arrive as an error event
    try:
        async for item in stream_turn(runtime, turn):
            if isinstance(item, str):
                yield _sse("token", {"text": item})
                continue
            yield _sse("done", {
                "reply": item.reply,
                "conversation_id": str(item.conversation_id),
                "memories_used": [m.model_dump(mode="json") for m in _memories(item)],
                "model": item.model,
                "route": {"name": item.route, "reason": item.route_reason, "backend": item.backend},
                "usage": {"prompt_tokens": item.prompt_tokens, "completion_tokens": item.completion_tokens,
                          "cost": item.cost},
                "timings": {"ttft_ms": item.ttft_ms, "latency_ms": item.latency_ms},
            })
    except ModelError as exc:
        yield _sse("error", {"detail": f"model backend failed; nothing was stored: {exc}"})


@router.post("/chat", response_model=ChatResponse, responses={200: {"content": {"text/event-stream": {}}}})
async def post_chat(runtime: RuntimeDep, principal: PrincipalDep, request: Request, body: ChatRequest):
    check_length("message", body.message, runtime.settings.max_message_chars)
    await act_as(request, runtime, principal, body.user_id)
    if body.stream:
        events = _events(runtime, body)
        await anext(events)  # prepare before answering, so an unknown user is still a plain 404
        return StreamingResponse(events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
    turn = await achat_turn(runtime, body.user_id, body.message, body.conversation_id)
    return ChatResponse(
        reply=turn.reply,
        conversation_id=turn.conversation_id,
        memories_used=_memories(turn),
        model=turn.model,
        latency_ms=turn.latency_ms,
    )
