"""Memory rows: the write path (with near-duplicate merging) and plain reads and edits."""

import io
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, text, update
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
    """The user's closest memory, exactly: `+ 0` keeps the planner off the HNSW index, whose filtered
    scan can miss the user's rows (memory/ranking.py does the same for its candidates)."""
    distance = Memory.embedding.cosine_distance(embedding)
    row = session.execute(
        select(Memory, distance).where(Memory.user_id == user_id).order_by(distance + 0).limit(1)
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


@dataclass(frozen=True)
class NewMemory:
    """One row for remember_many: what `remember` takes, with the event time required."""

    user_id: uuid.UUID
    text: str
    embedding: Sequence[float]
    created_at: datetime
    tags: EmotionTags | None = None
    role: str = "user"
    speaker: str | None = None
    message_id: uuid.UUID | None = None
    id: uuid.UUID | None = None  # a fresh uuid4 when not given


_COPY_COLUMNS = (
    "id, user_id, message_id, role, speaker, text, seq, embedding, emotions, ekman_label, valence, arousal,"
    " intensity, importance, created_at"
)
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_field(value: object) -> str:
    if value is None:
        return "\\N"
    return str(value).translate(_COPY_ESCAPES)


class VectorLiterals:
    """pgvector text literals, formatted once per embedding object: bulk callers (the simulation)
    pass the same few vectors many times, and formatting 384 floats costs more than sending them.
    Holds each embedding it formatted, so an id is never reused for another list."""

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[Sequence[float], str]] = {}

    def __call__(self, embedding: Sequence[float]) -> str:
        hit = self._by_id.get(id(embedding))
        if hit is None or hit[0] is not embedding:
            hit = self._by_id[id(embedding)] = (embedding, "[" + ",".join(map(repr, map(float, embedding))) + "]")
        return hit[1]


def remember_many(
    session: Session, memories: Sequence[NewMemory], literals: VectorLiterals | None = None
) -> list[uuid.UUID]:
    """Store many memories in two round trips (positions, then one COPY): the columns `remember` sets,
    with positions in the given order per user. No near-duplicate merging: callers that need it
    decide before (the simulation does, against the vectors it already holds).

    Repeated texts are scored once; `literals` can carry formatted vectors across calls."""
    if not memories:
        return []
    session.flush()  # rows the ORM still holds go first, as they would with `remember`
    counts: dict[uuid.UUID, int] = {}
    for m in memories:
        counts[m.user_id] = counts.get(m.user_id, 0) + 1
    last = dict(
        session.execute(
            text(
                "UPDATE users u SET memory_seq = u.memory_seq + c.n"
                " FROM unnest(CAST(:ids AS uuid[]), CAST(:ns AS bigint[])) AS c(id, n)"
                " WHERE u.id = c.id RETURNING u.id, u.memory_seq"
            ),
            {"ids": list(counts), "ns": list(counts.values())},
        ).all()
    )
    missing = [str(u) for u in counts if u not in last]
    if missing:
        raise NotFound(f"user {missing[0]} not found" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    next_seq = {u: last[u] - n + 1 for u, n in counts.items()}
    literals = literals or VectorLiterals()
    scored: dict[tuple[str, float | None], float] = {}
    ids: list[uuid.UUID] = []
    rows = io.StringIO()
    for m in memories:
        tags = m.tags or EmotionTags()
        vector = literals(m.embedding)
        weight = scored.get((m.text, tags.intensity))
        if weight is None:
            weight = scored[(m.text, tags.intensity)] = importance(m.text, tags.intensity)
        memory_id = m.id or uuid.uuid4()
        ids.append(memory_id)
        seq = next_seq[m.user_id]
        next_seq[m.user_id] = seq + 1
        fields = (
            memory_id, m.user_id, m.message_id, m.role, m.speaker, m.text, seq, vector,
            json.dumps(tags.emotions) if tags.emotions else None, tags.ekman_label, tags.valence, tags.arousal,
            tags.intensity, weight, m.created_at.isoformat(),
        )
        rows.write("\t".join(map(_copy_field, fields)) + "\n")
    cursor = session.connection().connection.driver_connection.cursor()
    with cursor.copy(f"COPY memories ({_COPY_COLUMNS}) FROM STDIN") as copy:
        copy.write(rows.getvalue())
    return ids


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
