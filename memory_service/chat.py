"""One chat turn: remember the message, recall related memories, reply, and store it all atomically."""

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from memory_service.db.models import Conversation, Message
from memory_service.errors import NotFound
from memory_service.events import log_event
from memory_service.llm.base import ChatMessage
from memory_service.llm.prompts import build_messages
from memory_service.memory.store import RecalledMemory, add_memory, mark_recalled, retrieve
from memory_service.runtime import Runtime
from memory_service.users import get_user


@dataclass(frozen=True)
class TurnResult:
    reply: str
    conversation_id: uuid.UUID
    memories_used: list[RecalledMemory]
    model: str
    latency_ms: int


def _conversation(session: Session, user_id: uuid.UUID, conversation_id: uuid.UUID | None) -> Conversation | None:
    """The named conversation, or the user's latest; None means a new one starts with this turn."""
    if conversation_id is not None:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None or conversation.user_id != user_id:
            raise NotFound(f"conversation {conversation_id} not found")
        return conversation
    return session.scalars(
        select(Conversation).where(Conversation.user_id == user_id).order_by(Conversation.created_at.desc()).limit(1)
    ).first()


def _history(session: Session, conversation: Conversation | None, n: int) -> list[ChatMessage]:
    if conversation is None or n == 0:
        return []
    rows = session.scalars(
        select(Message)
        .where(Message.user_id == conversation.user_id, Message.conversation_id == conversation.id)
        .order_by(Message.created_at.desc())
        .limit(n)
    ).all()
    return [{"role": m.role, "content": m.content} for m in reversed(rows)]


def chat_turn(
    runtime: Runtime, user_id: uuid.UUID, message: str, conversation_id: uuid.UUID | None = None
) -> TurnResult:
    """Reads first, generates with no transaction open, then writes the whole turn in one
    transaction: a failure anywhere leaves nothing behind, and no connection waits on the model."""
    started = time.perf_counter()
    received_at = datetime.now(UTC)
    settings = runtime.settings
    embedding = runtime.embedder.embed_one(message)

    with runtime.db.transaction() as session:
        get_user(session, user_id)
        conversation = _conversation(session, user_id, conversation_id)
        memories = retrieve(session, user_id, embedding, settings.memory_top_k)
        history = _history(session, conversation, settings.history_messages)

    completion = runtime.llm.complete(
        build_messages(message, memories, history),
        max_tokens=settings.llm_max_tokens,
        temperature=settings.llm_temperature,
    )
    latency_ms = round((time.perf_counter() - started) * 1000)
    replied_at = datetime.now(UTC)

    with runtime.db.transaction() as session:
        if conversation is None:
            conversation = Conversation(user_id=user_id)
            session.add(conversation)
            session.flush()
        user_message = Message(
            user_id=user_id, conversation_id=conversation.id, role="user", content=message,
            created_at=received_at,
        )
        session.add(user_message)
        session.flush()
        add_memory(
            session,
            user_id=user_id,
            text=message,
            role="user",
            embedding=embedding,
            message_id=user_message.id,
            created_at=received_at,
        )
        session.add(
            Message(
                user_id=user_id,
                conversation_id=conversation.id,
                role="assistant",
                content=completion.text,
                model=completion.model,
                latency_ms=latency_ms,
                created_at=replied_at,
            )
        )
        mark_recalled(session, user_id, [m.id for m in memories])
        log_event(session, "message_sent", user_id, conversation_id=str(conversation.id), chars=len(message))
        if memories:
            log_event(session, "memory_recalled", user_id, count=len(memories))

    return TurnResult(
        reply=completion.text,
        conversation_id=conversation.id,
        memories_used=memories,
        model=completion.model,
        latency_ms=latency_ms,
    )
