"""Memory ranking: speaker, per-user position, keyword document, mentions.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TSV = "to_tsvector('english'::regconfig, COALESCE(speaker, '') || ' ' || text)"


def upgrade() -> None:
    op.add_column("users", sa.Column("memory_seq", sa.BigInteger(), server_default=sa.text("0"), nullable=False))
    op.add_column("memories", sa.Column("speaker", sa.Text(), nullable=True))
    op.add_column("memories", sa.Column("seq", sa.BigInteger(), nullable=True))
    op.add_column("memories", sa.Column("mentions", sa.Integer(), server_default=sa.text("1"), nullable=False))
    # Existing memories get positions in time order, and users continue from there.
    op.execute(
        """
        UPDATE memories m SET seq = o.seq
        FROM (SELECT id, row_number() OVER (PARTITION BY user_id ORDER BY created_at, id) AS seq FROM memories) o
        WHERE m.id = o.id
        """
    )
    op.execute(
        "UPDATE users u SET memory_seq = s.max_seq"
        " FROM (SELECT user_id, max(seq) AS max_seq FROM memories GROUP BY user_id) s WHERE u.id = s.user_id"
    )
    op.alter_column("memories", "seq", nullable=False)
    op.add_column("memories", sa.Column("tsv", postgresql.TSVECTOR(), sa.Computed(TSV, persisted=True), nullable=False))
    op.add_column(
        "memories", sa.Column("doc_len", sa.Integer(), sa.Computed(f"length({TSV})", persisted=True), nullable=False)
    )
    op.create_index("ix_memories_user_id_seq", "memories", ["user_id", "seq"], unique=True)
    op.create_index("ix_memories_tsv", "memories", ["tsv"], postgresql_using="gin")


def downgrade() -> None:
    op.drop_index("ix_memories_tsv", table_name="memories")
    op.drop_index("ix_memories_user_id_seq", table_name="memories")
    for column in ("doc_len", "tsv", "mentions", "seq", "speaker"):
        op.drop_column("memories", column)
    op.drop_column("users", "memory_seq")
