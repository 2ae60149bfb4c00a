"""SQLAlchemy 2.0 models. They must match migrations/ exactly: a test runs autogenerate against them."""

import uuid
from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Identity, Index, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB, REAL
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from memory_service.config import EMBEDDING_DIM


class Base(DeclarativeBase):
    type_annotation_map = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSONB,
        float: REAL,
        str: Text,
    }


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_user_id_created_at", "user_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint("role IN ('user', 'assistant', 'system')", name="ck_messages_role"),
        Index("ix_messages_conversation_id_created_at", "conversation_id", "created_at"),
        Index("ix_messages_user_id", "user_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    role: Mapped[str]
    content: Mapped[str]
    model: Mapped[str | None]
    latency_ms: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Memory(Base):
    """One episodic memory: what was said, its embedding, and emotion tags filled by the tagger."""

    __tablename__ = "memories"
    __table_args__ = (
        Index("ix_memories_user_id_created_at", "user_id", "created_at"),
        Index(
            "ix_memories_embedding_hnsw",
            "embedding",
            postgresql_using="hnsw",
            postgresql_with={"m": 16, "ef_construction": 64},
            postgresql_ops={"embedding": "vector_cosine_ops"},
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    message_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    role: Mapped[str]
    text: Mapped[str]
    embedding: Mapped[list[float]] = mapped_column(Vector(EMBEDDING_DIM))
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


class Event(Base):
    """Append-only product events; analytics reads only these (and assignments, router calls)."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_user_id_occurred_at", "user_id", "occurred_at"),
        Index("ix_events_name_occurred_at", "name", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=False), primary_key=True)
    # No foreign key: events may outlive (pseudonymized) users.
    user_id: Mapped[uuid.UUID | None]
    name: Mapped[str]
    properties: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    occurred_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # Set on imported rows (a hash of the row), so re-importing the same history adds nothing.
    source_key: Mapped[str | None] = mapped_column(unique=True)


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
