"""Index the activity rollup by (event, day), so Day-N retention reads only the users active on day N.

Exact Day-N retention over rolling windows asks, for every user, "active on day N?"; with this index
Postgres answers it for all users at once from one index range (about 180k entries for Day 7 of
200k users, benchmarks/retention.py) instead of scanning the 3M-row rollup.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_user_activity_days_name_day", "user_activity_days", ["name", "day", "user_id"])


def downgrade() -> None:
    op.drop_index("ix_user_activity_days_name_day", table_name="user_activity_days")
