"""Keys that carry user_id, so every per-user table can be distributed by user (Citus) as it is.

Citus needs the distribution column in every primary key, unique key and foreign key between
distributed tables, and never NULL. So conversations, messages, memories, events and router_calls
are keyed by (user_id, id); the message -> conversation and memory -> message foreign keys include
user_id (the memory one nulls only message_id when its message goes); event import's dedupe key is
(user_id, source_key). events.user_id and router_calls.user_id become NOT NULL: every writer sets
them, and a NULL left by older code gets a fresh random id, the same pseudonymization erasure uses,
rather than being dropped. messages' single-column user_id index is replaced by its primary key.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYED_BY_USER = ("conversations", "messages", "memories", "events", "router_calls")
NOT_NULL_USER = ("events", "router_calls")


def upgrade() -> None:
    op.drop_constraint("memories_message_id_fkey", "memories", type_="foreignkey")
    op.drop_constraint("messages_conversation_id_fkey", "messages", type_="foreignkey")
    for table in NOT_NULL_USER:
        op.execute(f"UPDATE {table} SET user_id = gen_random_uuid() WHERE user_id IS NULL")
        op.alter_column(table, "user_id", nullable=False)
    for table in KEYED_BY_USER:
        op.drop_constraint(f"{table}_pkey", table, type_="primary")
        op.create_primary_key(f"{table}_pkey", table, ["user_id", "id"])
    op.drop_index("ix_messages_user_id", table_name="messages")
    op.drop_constraint("events_source_key_key", "events", type_="unique")
    op.create_unique_constraint("events_user_id_source_key_key", "events", ["user_id", "source_key"])
    op.create_foreign_key(
        "messages_user_id_conversation_id_fkey", "messages", "conversations",
        ["user_id", "conversation_id"], ["user_id", "id"], ondelete="CASCADE",
    )
    op.create_foreign_key(
        "memories_user_id_message_id_fkey", "memories", "messages",
        ["user_id", "message_id"], ["user_id", "id"], ondelete="SET NULL (message_id)",
    )


def downgrade() -> None:
    op.drop_constraint("memories_user_id_message_id_fkey", "memories", type_="foreignkey")
    op.drop_constraint("messages_user_id_conversation_id_fkey", "messages", type_="foreignkey")
    op.drop_constraint("events_user_id_source_key_key", "events", type_="unique")
    op.create_unique_constraint("events_source_key_key", "events", ["source_key"])
    op.create_index("ix_messages_user_id", "messages", ["user_id"])
    for table in KEYED_BY_USER:
        op.drop_constraint(f"{table}_pkey", table, type_="primary")
        op.create_primary_key(f"{table}_pkey", table, ["id"])
    for table in NOT_NULL_USER:
        op.alter_column(table, "user_id", nullable=True)
    op.create_foreign_key(
        "messages_conversation_id_fkey", "messages", "conversations", ["conversation_id"], ["id"], ondelete="CASCADE"
    )
    op.create_foreign_key("memories_message_id_fkey", "memories", "messages", ["message_id"], ["id"], ondelete="SET NULL")
