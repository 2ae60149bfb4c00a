"""SQLAlchemy 2.0 models. They must match migrations/ exactly: a test runs autogenerate against them."""

import uuid
from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger, CheckConstraint, Computed, DateTime, ForeignKey, ForeignKeyConstraint, Identity, Index, LargeBinary,
    PrimaryKeyConstraint, Text, UniqueConstraint, func, text,
)
from sqlalchemy.dialects.postgresql import JSONB, REAL, TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from memory_service.config import EMBEDDING_DIM


# memories is hash-partitioned by user into these tables (migration 0008); the models list only the parent.
MEMORY_PARTITIONS = 16
PARTITION_TABLES = frozenset(f"memories_p{i}" for i in range(MEMORY_PARTITIONS))

# Keyword search document: the speaker's name and the text, English stemming.
MEMORY_TSV = "to_tsvector('english'::regconfig, COALESCE(speaker, '') || ' ' || text)"


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic autogenerate hook: the partitions are the database's business, not the models'."""
    return not (type_ == "table" and reflected and name in PARTITION_TABLES)


class Base(DeclarativeBase):
    type_annotation_map = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSONB,
        float: REAL,
        str: Text,
    }


class App(Base):
    """A tenant: one companion app, which owns its users and its API keys."""

    __tablename__ = "apps"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(unique=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class ApiKey(Base):
    """An app's API key, stored only as its SHA-256; the prefix is shown to tell keys apart."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    app_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    prefix: Mapped[str]
    key_hash: Mapped[str] = mapped_column(unique=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    revoked_at: Mapped[datetime | None]


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # The app (tenant) that owns the user; NULL for users made outside the API (evaluation,
    # simulation), which no API key reaches.
    app_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # Last memory position handed out; bumping it row-locks the user, so positions never collide.
    memory_seq: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        PrimaryKeyConstraint("user_id", "id"),
        Index("ix_conversations_user_id_created_at", "user_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        PrimaryKeyConstraint("user_id", "id"),
        ForeignKeyConstraint(
            ["user_id", "conversation_id"], ["conversations.user_id", "conversations.id"], ondelete="CASCADE"
        ),
        CheckConstraint("role IN ('user', 'assistant', 'system')", name="ck_messages_role"),
        Index("ix_messages_conversation_id_created_at", "conversation_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    conversation_id: Mapped[uuid.UUID]
    role: Mapped[str]
    content: Mapped[str]
    model: Mapped[str | None]
    latency_ms: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Memory(Base):
    """One episodic memory: what was said, its embedding, and emotion tags filled by the tagger."""

    __tablename__ = "memories"
    __table_args__ = (
        PrimaryKeyConstraint("user_id", "id"),
        # A memory outlives its message: deleting the message nulls only message_id.
        ForeignKeyConstraint(
            ["user_id", "message_id"], ["messages.user_id", "messages.id"], ondelete="SET NULL (message_id)"
        ),
        Index("ix_memories_user_id_created_at", "user_id", "created_at"),
        Index("ix_memories_user_id_seq", "user_id", "seq", unique=True),
        Index("ix_memories_tsv", "tsv", postgresql_using="gin"),
        Index(
            "ix_memories_embedding_hnsw",
            "embedding",
            postgresql_using="hnsw",
            postgresql_with={"m": 16, "ef_construction": 64},
            postgresql_ops={"embedding": "vector_cosine_ops"},
        ),
        {"postgresql_partition_by": "HASH (user_id)"},
    )

    id: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    message_id: Mapped[uuid.UUID | None]
    role: Mapped[str]
    speaker: Mapped[str | None]
    text: Mapped[str]
    # Position in the user's memory stream: neighbouring turns give a memory its context.
    seq: Mapped[int] = mapped_column(BigInteger)
    embedding: Mapped[list[float]] = mapped_column(Vector(EMBEDDING_DIM))
    tsv: Mapped[str] = mapped_column(TSVECTOR, Computed(MEMORY_TSV, persisted=True))
    doc_len: Mapped[int] = mapped_column(Computed(f"length({MEMORY_TSV})", persisted=True))
    # Emotion tags: {label: score} over the GoEmotions labels, the Ekman label, and
    # valence/arousal/intensity. Nullable until a tagger has seen the memory.
    emotions: Mapped[dict[str, Any] | None]
    ekman_label: Mapped[str | None]
    valence: Mapped[float | None]
    arousal: Mapped[float | None]
    intensity: Mapped[float | None]
    importance: Mapped[float] = mapped_column(server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_recalled_at: Mapped[datetime | None]
    recall_count: Mapped[int] = mapped_column(server_default=text("0"))
    # Near-duplicates strengthen the memory they repeat instead of adding a copy.
    mentions: Mapped[int] = mapped_column(server_default=text("1"))


class Event(Base):
    """Append-only product events; analytics reads only these (and assignments, router calls)."""

    __tablename__ = "events"
    __table_args__ = (
        PrimaryKeyConstraint("user_id", "id"),
        # Set on imported rows (a hash of the row), so re-importing the same history adds nothing.
        UniqueConstraint("user_id", "source_key"),
        Index("ix_events_user_id_occurred_at", "user_id", "occurred_at"),
        Index("ix_events_name_occurred_at", "name", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False))
    # No foreign key: events may outlive (pseudonymized) users.
    user_id: Mapped[uuid.UUID]
    name: Mapped[str]
    properties: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    occurred_at: Mapped[datetime] = mapped_column(server_default=func.now())
    source_key: Mapped[str | None]


class ExperimentAssignment(Base):
    """A user's sticky arm in one phase of one experiment, stored at first exposure.

    Keyed by phase and seed: editing weights does not move anyone, a new phase or seed re-randomizes."""

    __tablename__ = "experiment_assignments"
    __table_args__ = (Index("ix_experiment_assignments_experiment_key_phase", "experiment_key", "phase"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    experiment_key: Mapped[str] = mapped_column(primary_key=True)
    phase: Mapped[str] = mapped_column(primary_key=True)
    seed: Mapped[str] = mapped_column(primary_key=True)
    arm: Mapped[str]
    memory_policy: Mapped[str]
    assigned_at: Mapped[datetime] = mapped_column(server_default=func.now())


class UserActivity(Base):
    """Rollup of events per (event name, user): first and last occurrence. Maintained by triggers
    on events (migration 0003), never written by the application."""

    __tablename__ = "user_activity"

    name: Mapped[str] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]


class UserActivityDay(Base):
    """Rolling 24-hour day indices (0 = the day of first activity) on which a user had the event.
    Maintained by triggers on events (migration 0003), exact as events arrive."""

    __tablename__ = "user_activity_days"
    # Day-N retention reads the users active on day N from one range of this index (migration 0009).
    __table_args__ = (Index("ix_user_activity_days_name_day", "name", "day", "user_id"),)

    name: Mapped[str] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    day: Mapped[int] = mapped_column(primary_key=True)


class RouterCall(Base):
    """One backend call made by the model router (failed ones included); analytics reads it."""

    __tablename__ = "router_calls"
    __table_args__ = (
        PrimaryKeyConstraint("user_id", "id"),
        Index("ix_router_calls_user_id_created_at", "user_id", "created_at"),
        Index("ix_router_calls_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False))
    # No foreign keys: the log outlives users and conversations, like events.
    user_id: Mapped[uuid.UUID]
    conversation_id: Mapped[uuid.UUID | None]
    route: Mapped[str]
    reason: Mapped[str]
    backend: Mapped[str]
    model: Mapped[str]
    prompt_tokens: Mapped[int]
    completion_tokens: Mapped[int]
    ttft_ms: Mapped[int | None]
    latency_ms: Mapped[int]
    cost: Mapped[float]
    fallback_from: Mapped[str | None]
    error: Mapped[str | None]
    streamed: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class IdempotentResponse(Base):
    """The first answer to a POST sent with an Idempotency-Key, replayed to its retries.

    status_code is NULL while the first request is still running. Erased with the user."""

    __tablename__ = "idempotent_responses"

    app_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    method: Mapped[str]
    path: Mapped[str]
    request_hash: Mapped[str]
    status_code: Mapped[int | None]
    content_type: Mapped[str | None]
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    completed_at: Mapped[datetime | None]
