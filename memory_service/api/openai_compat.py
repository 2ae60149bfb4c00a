"""OpenAI-compatible chat: POST /v1/chat/completions and GET /v1/models.

The official `openai` client works unchanged. The `user` field (or the X-User-Id header) names
our user, so memory applies; the conversation is the user's latest, or X-Conversation-Id. The
service keeps the conversation itself: of the messages sent, only the last (a user message) is
the new turn. `model` is a route name from config/router.yaml, or "auto" for the routing policy."""

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from memory_service.api.auth import PrincipalDep, act_as, authenticate
from memory_service.api.deps import RuntimeDep
from memory_service.api.errors import MODEL_BUSY_RETRY_AFTER_S, model_busy
from memory_service.api.text import odd_character
from memory_service.chat import TurnResult, achat_turn, prepare_turn
from memory_service.chat_stream import stream_turn
from memory_service.errors import NotFound
from memory_service.llm.base import ModelError

router = APIRouter(prefix="/v1", tags=["openai"])
AUTO = "auto"


class OpenAIMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: str
    content: str | list[dict[str, Any]] | None = None


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: bool = False


class CompletionRequest(BaseModel):
    # OpenAI clients send many optional fields; sampling ones are ignored (routes set them).
    model_config = ConfigDict(extra="ignore")
    model: str
    messages: list[OpenAIMessage]
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = None


def _error(status: int, message: str, type_: str, param: str | None = None, code: str | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"message": message, "type": type_, "param": param, "code": code}})


def _text(message: OpenAIMessage) -> str:
    if isinstance(message.content, list):
        texts = (part.get("text") for part in message.content if part.get("type") == "text")
        return "".join(t for t in texts if isinstance(t, str))
    return message.content or ""


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


@router.get("/models", dependencies=[Depends(authenticate)])
def list_models(runtime: RuntimeDep) -> dict:
    names = [AUTO, *runtime.router.config.routes]
    return {"object": "list", "data": [{"id": n, "object": "model", "created": 0, "owned_by": "memory-service"} for n in names]}


def _memory_info(turn: TurnResult) -> dict:
    return {
        "conversation_id": str(turn.conversation_id),
        "route": turn.route, "reason": turn.route_reason, "backend": turn.backend,
        "memories_used": [{"id": str(m.id), "text": m.text, "score": round(m.score, 4)} for m in turn.memories_used],
        "ttft_ms": turn.ttft_ms, "latency_ms": turn.latency_ms, "cost": turn.cost,
    }


def _usage(turn: TurnResult) -> dict:
    return {"prompt_tokens": turn.prompt_tokens, "completion_tokens": turn.completion_tokens,
            "total_tokens": turn.prompt_tokens + turn.completion_tokens}


@router.post("/chat/completions")
async def chat_completions(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    request: Request,
    body: CompletionRequest,
    x_user_id: str | None = Header(default=None),
    x_conversation_id: str | None = Header(default=None),
):
    user_id = _uuid(body.user or x_user_id)
    if user_id is None:
        return _error(400, "name our user by a UUID in `user` or the X-User-Id header", "invalid_request_error", "user")
    conversation_id = _uuid(x_conversation_id)
    if x_conversation_id and conversation_id is None:
        return _error(400, "X-Conversation-Id must be a UUID", "invalid_request_error", "X-Conversation-Id")
    if body.model != AUTO and body.model not in runtime.router.config.routes:
        known = ", ".join([AUTO, *runtime.router.config.routes])
        shown = body.model if odd_character(body.model) is None else "(unprintable)"
        return _error(404, f"model {shown!r} does not exist; known: {known}", "invalid_request_error", "model", "model_not_found")
    if not body.messages or body.messages[-1].role != "user" or not _text(body.messages[-1]).strip():
        return _error(400, "the last message must be a non-empty user message", "invalid_request_error", "messages")
    message = _text(body.messages[-1])
    if len(message) > runtime.settings.max_message_chars:
        return _error(400, f"the message must be at most {runtime.settings.max_message_chars} characters", "invalid_request_error", "messages")
    if (odd := odd_character(message)) is not None:
        return _error(400, f"the message must not contain {odd}", "invalid_request_error", "messages")
    try:
        await act_as(request, runtime, principal, user_id)
    except NotFound as exc:
        return _error(404, str(exc), "invalid_request_error", "user")
    requested = None if body.model == AUTO else body.model
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())

    try:
        if not body.stream:
            turn = await achat_turn(runtime, user_id, message, conversation_id, model=requested)
        else:
            prepared = await run_in_threadpool(prepare_turn, runtime, user_id, message, conversation_id)
    except NotFound as exc:
        return _error(404, str(exc), "invalid_request_error", "user")
    except ModelError as exc:
        if model_busy(exc):
            response = _error(429, f"the model is busy; nothing was stored, retry shortly: {exc}", "rate_limit_error")
            response.headers["Retry-After"] = MODEL_BUSY_RETRY_AFTER_S
            return response
        return _error(503, f"model backend failed; nothing was stored: {exc}", "server_error")

    if not body.stream:
        return {
            "id": completion_id, "object": "chat.completion", "created": created, "model": turn.route or body.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": turn.reply}, "finish_reason": "stop"}],
            "usage": _usage(turn), "memory": _memory_info(turn),
        }

    include_usage = bool(body.stream_options and body.stream_options.include_usage)

    def chunk(delta: dict, finish: str | None = None, **extra: Any) -> str:
        data = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": body.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(data)}\n\n"

    async def events() -> AsyncIterator[str]:
        yield chunk({"role": "assistant", "content": ""})
        try:
            async for item in stream_turn(runtime, prepared, model=requested):
                if isinstance(item, str):
                    yield chunk({"content": item})
                else:
                    yield chunk({}, "stop", memory=_memory_info(item))
                    if include_usage:
                        usage = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                                 "model": body.model, "choices": [], "usage": _usage(item)}
                        yield f"data: {json.dumps(usage)}\n\n"
        except ModelError as exc:
            error = {"error": {"message": f"model backend failed; nothing was stored: {exc}", "type": "server_error"}}
            yield f"data: {json.dumps(error)}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


