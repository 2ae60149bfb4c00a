"""Memory rows: write, list, and retrieve a user's most similar memories in one query."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from memory_service.db.models import Memory
from memory_service.encoder.tags import EmotionTags


@dataclass(frozen=True)
class RecalledMemory:
    id: uuid.UUID
    text: str
    role: str
    score: float
    created_at: datetime


def add_memory(
    session: Session,
    *,
    user_id: uuid.UUID,
    text: str,
    role: str,
    embedding: list[float],
    message_id: uuid.UUID | None = None,
    created_at: datetime | None = None,
    tags: EmotionTags | None = None,
) -> Memory:
    """created_at is the event time; imported history supplies its own."""
    memory = Memory(user_id=user_id, text=text, role=role, embedding=embedding, message_id=message_id)
    if tags is not None:
        memory.emotions = tags.emotions
        memory.ekman_label = tags.ekman_label
        memory.valence = tags.valence
        memory.arousal = tags.arousal
        memory.intensity = tags.intensity
    if created_at is not None:  # otherwise the column's server default, now()
        memory.created_at = created_at
    session.add(memory)
    session.flush()
    return memory


def retrieve(session: Session, user_id: uuid.UUID, embedding: list[float], k: int) -> list[RecalledMemory]:
    """Top-k of this user's memories by cosine similarity (score = 1 - cosine distance)."""
    if k <= 0:
        return []
    # With a per-user filter the HNSW scan may stop before k rows match; pgvector 0.8's
    # iterative scan keeps walking the graph until the filter is satisfied.
    session.execute(text("SET LOCAL hnsw.iterative_scan = strict_order"))
    distance = Memory.embedding.cosine_distance(embedding).label("distance")
    rows = session.execute(
        select(Memory.id, Memory.text, Memory.role, Memory.created_at, distance)
        .where(Memory.user_id == user_id)
        .order_by(distance)
        .limit(k)
    ).all()
    return [
        RecalledMemory(id=r.id, text=r.text, role=r.role, score=1.0 - float(r.distance), created_at=r.created_at)
        for r in rows
    ]


def mark_recalled(session: Session, user_id: uuid.UUID, memory_ids: list[uuid.UUID]) -> None:
    """MemoryBank-style bookkeeping; runs inside the turn's write transaction, not as an extra trip."""
    if memory_ids:
        session.execute(
            update(Memory)
            .where(Memory.user_id == user_id, Memory.id.in_(memory_ids))
            .values(recall_count=Memory.recall_count + 1, last_recalled_at=func.now())
        )


def list_memories(session: Session, user_id: uuid.UUID, *, limit: int, offset: int) -> list[Memory]:
    return list(
        session.scalars(
            select(Memory)
            .where(Memory.user_id == user_id)
            .order_by(Memory.created_at.desc(), Memory.id)
            .limit(limit)
            .offset(offset)
        )
    )
