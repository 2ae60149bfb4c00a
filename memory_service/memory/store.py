"""Memory rows: the write path (with near-duplicate merging) and plain reads and edits."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from memory_service.db.models import Memory, User
from memory_service.encoder.tags import EmotionTags
from memory_service.errors import NotFound
from memory_service.memory.importance import importance


@dataclass(frozen=True)
class RecalledMemory:
    id: uuid.UUID
    text: str
    role: str
    score: float
    created_at: datetime
    speaker: str | None = None
    components: dict[str, float] = field(default_factory=dict)  # each ranking term, before weighting


def memory_document(text: str, speaker: str | None = None) -> str:
    """What gets embedded: the speaker's name makes "what did Maya say" questions findable."""
    return f"{speaker}: {text}" if speaker else text


def _apply_tags(memory: Memory, tags: EmotionTags | None) -> None:
    tags = tags or EmotionTags()
    memory.emotions = tags.emotions or None
    memory.ekman_label = tags.ekman_label
    memory.valence = tags.valence
    memory.arousal = tags.arousal
    memory.intensity = tags.intensity
    memory.importance = importance(memory.text, tags.intensity)


def _nearest(session: Session, user_id: uuid.UUID, embedding: list[float]) -> tuple[Memory, float] | None:
    distance = Memory.embedding.cosine_distance(embedding)
    row = session.execute(
        select(Memory, distance).where(Memory.user_id == user_id).order_by(distance).limit(1)
    ).first()
    return (row[0], 1.0 - float(row[1])) if row else None


def remember(
    session: Session,
    *,
    user_id: uuid.UUID,
    text: str,
    embedding: list[float],
    tags: EmotionTags | None = None,
    role: str = "user",
    speaker: str | None = None,
    message_id: uuid.UUID | None = None,
    created_at: datetime | None = None,
    dedupe_threshold: float = 1.0,
) -> tuple[Memory, bool]:
    """Store a memory, or strengthen the user's existing near-duplicate (cosine ≥ dedupe_threshold).

    Returns the memory and whether it is new. created_at is the event time; imports supply their own."""
    if dedupe_threshold < 1.0:
        nearest = _nearest(session, user_id, embedding)
        if nearest is not None and nearest[1] >= dedupe_threshold and nearest[0].speaker == speaker:
            existing = nearest[0]
            existing.mentions += 1
            existing.importance = min(1.0, existing.importance + 0.1)
            session.flush()
            return existing, False

    seq = session.scalar(
        update(User).where(User.id == user_id).values(memory_seq=User.memory_seq + 1).returning(User.memory_seq)
    )
    if seq is None:
        raise NotFound(f"user {user_id} not found")
    memory = Memory(
        user_id=user_id, text=text, role=role, speaker=speaker, seq=seq, embedding=embedding, message_id=message_id
    )
    if created_at is not None:  # otherwise the column's server default, now()
        memory.created_at = created_at
    _apply_tags(memory, tags)
    session.add(memory)
    session.flush()
    return memory, True


def get_memory(session: Session, user_id: uuid.UUID, memory_id: uuid.UUID) -> Memory:
    memory = session.scalars(select(Memory).where(Memory.user_id == user_id, Memory.id == memory_id)).first()
    if memory is None:
        raise NotFound(f"memory {memory_id} not found")
    return memory


def edit_memory(
    session: Session, memory: Memory, *, text: str, embedding: list[float], tags: EmotionTags | None
) -> Memory:
    """A corrected text gets a fresh embedding and fresh tags, so ranking follows the edit."""
    memory.text = text
    memory.embedding = embedding
    _apply_tags(memory, tags)
    session.flush()
    session.refresh(memory)
    return memory


def delete_memory(session: Session, user_id: uuid.UUID, memory_id: uuid.UUID) -> None:
    session.delete(get_memory(session, user_id, memory_id))


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
            .order_by(Memory.created_at.desc(), Memory.seq.desc())
            .limit(limit)
            .offset(offset)
        )
    )
