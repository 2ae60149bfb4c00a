"""Initial schema: users, conversations, messages, memories (vector(384) + emotion columns), events.

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMPTZ = sa.DateTime(timezone=True)


def _created_at() -> sa.Column:
    return sa.Column("created_at", TIMESTAMPTZ, server_default=sa.text("now()"), nullable=False)


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")

    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.Text(), nullable=True),
        _created_at(),
    )
    op.create_table(
        "conversations",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        _created_at(),
    )
    op.create_index("ix_conversations_user_id_created_at", "conversations", ["user_id", "created_at"])

    op.create_table(
        "messages",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "conversation_id", sa.Uuid(), sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        _created_at(),
        sa.CheckConstraint("role IN ('user', 'assistant', 'system')", name="ck_messages_role"),
    )
    op.create_index("ix_messages_conversation_id_created_at", "messages", ["conversation_id", "created_at"])
    op.create_index("ix_messages_user_id", "messages", ["user_id"])

    op.create_table(
        "memories",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("message_id", sa.Uuid(), sa.ForeignKey("messages.id", ondelete="SET NULL"), nullable=True),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("embedding", Vector(384), nullable=False),
        sa.Column("emotions", postgresql.JSONB(), nullable=True),
        sa.Column("ekman_label", sa.Text(), nullable=True),
        sa.Column("valence", postgresql.REAL(), nullable=True),
        sa.Column("arousal", postgresql.REAL(), nullable=True),
        sa.Column("intensity", postgresql.REAL(), nullable=True),
        sa.Column("importance", postgresql.REAL(), server_default=sa.text("0"), nullable=False),
        _created_at(),
        sa.Column("last_recalled_at", TIMESTAMPTZ, nullable=True),
        sa.Column("recall_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.create_index("ix_memories_user_id_created_at", "memories", ["user_id", "created_at"])
    op.create_index(
        "ix_memories_embedding_hnsw",
        "memories",
        ["embedding"],
        postgresql_using="hnsw",
        postgresql_with={"m": 16, "ef_construction": 64},
        postgresql_ops={"embedding": "vector_cosine_ops"},
    )

    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), primary_key=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("properties", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("occurred_at", TIMESTAMPTZ, server_default=sa.text("now()"), nullable=False),
    )
    op.create_index("ix_events_user_id_occurred_at", "events", ["user_id", "occurred_at"])
    op.create_index("ix_events_name_occurred_at", "events", ["name", "occurred_at"])


def downgrade() -> None:
    for table in ("events", "memories", "messages", "conversations", "users"):
        op.drop_table(table)
    op.execute("DROP EXTENSION IF EXISTS vector")
