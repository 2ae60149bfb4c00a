"""Sticky experiment assignments; a dedupe key for imported events.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("events", sa.Column("source_key", sa.Text(), nullable=True))
    op.create_unique_constraint("events_source_key_key", "events", ["source_key"])

    op.create_table(
        "experiment_assignments",
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("experiment_key", sa.Text(), nullable=False),
        sa.Column("phase", sa.Text(), nullable=False),
        sa.Column("seed", sa.Text(), nullable=False),
        sa.Column("arm", sa.Text(), nullable=False),
        sa.Column("memory_policy", sa.Text(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "experiment_key", "phase", "seed"),
    )
    op.create_index(
        "ix_experiment_assignments_experiment_key_phase", "experiment_assignments", ["experiment_key", "phase"]
    )


def downgrade() -> None:
    op.drop_table("experiment_assignments")
    op.drop_constraint("events_source_key_key", "events", type_="unique")
    op.drop_column("events", "source_key")
