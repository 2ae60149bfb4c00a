"""A user's right to leave and to take their data: erasure and export.

Erasure runs as the owner (outside row-level security), after the route has checked the user
belongs to the caller's app, because pseudonymizing events writes a user id that is not the
scope's. Everything keyed by the user goes in one transaction: messages, memories (with their
embeddings), conversations and experiment assignments (by ON DELETE CASCADE from users), router
call logs and stored idempotent responses (explicitly: the logs have no foreign key, and the
responses lose theirs when distributed by app on Citus, README), and events,
deleted or moved to a random id as configured. The model's in-memory prompt cache holds KV
states of prompts quoting the user's memories, so it is emptied too."""

import uuid
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from memory_service.db.models import (
    Conversation, Event, ExperimentAssignment, IdempotentResponse, Memory, Message, RouterCall, User,
)
from memory_service.errors import NotFound

USER_TABLES = (Conversation, Message, Memory, ExperimentAssignment, RouterCall, Event, IdempotentResponse)


@dataclass(frozen=True)
class Erased:
    user_id: uuid.UUID
    rows: dict[str, int]  # table -> rows deleted (events: deleted or pseudonymized)
    events: Literal["delete", "pseudonymize"]


def count_rows(session: Session, user_id: uuid.UUID) -> dict[str, int]:
    return {
        model.__tablename__: session.scalar(select(func.count()).select_from(model).where(model.user_id == user_id))
        for model in USER_TABLES
    }


def erase_user(
    session: Session, user_id: uuid.UUID, app_id: uuid.UUID, *, events: Literal["delete", "pseudonymize"]
) -> Erased:
    user = session.scalars(select(User).where(User.id == user_id, User.app_id == app_id).with_for_update()).first()
    if user is None:
        raise NotFound(f"user {user_id} not found")
    rows = count_rows(session, user_id)
    session.execute(delete(RouterCall).where(RouterCall.user_id == user_id))
    session.execute(delete(IdempotentResponse).where(IdempotentResponse.user_id == user_id))
    if events == "delete":
        session.execute(delete(Event).where(Event.user_id == user_id))
    else:
        # Properties may name the user's conversation; its id is erased with it.
        session.execute(
            update(Event).where(Event.user_id == user_id)
            .values(user_id=uuid.uuid4(), properties=Event.properties.op("-")("conversation_id"))
        )
    session.delete(user)  # cascades: conversations, messages, memories, assignments
    session.flush()
    return Erased(user_id=user_id, rows=rows, events=events)


def _row(obj: Any, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    return {c.key: getattr(obj, c.key) for c in obj.__mapper__.column_attrs if c.key not in exclude}


def export_user(session: Session, user_id: uuid.UUID, *, embeddings: bool = True) -> dict[str, Any]:
    """Everything stored about the user, as JSON-ready rows (UUIDs and times still as objects)."""
    user = session.scalars(select(User).where(User.id == user_id)).first()
    if user is None:
        raise NotFound(f"user {user_id} not found")

    def rows(model, order, exclude: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        found = session.scalars(select(model).where(model.user_id == user_id).order_by(*order))
        return [_row(r, exclude) for r in found]

    memories = rows(Memory, (Memory.seq,), ("tsv", "doc_len") + (() if embeddings else ("embedding",)))
    for m in memories:
        if "embedding" in m and m["embedding"] is not None:
            m["embedding"] = [float(x) for x in m["embedding"]]
    return {
        "user": _row(user, ("memory_seq",)),
        "conversations": rows(Conversation, (Conversation.created_at,)),
        "messages": rows(Message, (Message.created_at, Message.id)),
        "memories": memories,
        "events": rows(Event, (Event.occurred_at, Event.id), ("source_key",)),
        "experiment_assignments": rows(ExperimentAssignment, (ExperimentAssignment.assigned_at,)),
        "router_calls": rows(RouterCall, (RouterCall.created_at, RouterCall.id)),
    }
