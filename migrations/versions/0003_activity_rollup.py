"""Exact daily-activity rollup per user and event, kept current by triggers on events.

Day-N retention over millions of events needs, per (event name, user), the first activity and the
set of rolling 24-hour day indices since it. Statement-level triggers with transition tables keep
both exact as events arrive (one pass per statement, so bulk imports stay cheap); an event earlier
than a user's known first activity shifts every index, so that user's days are rebuilt.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAY_INDEX = "floor((extract(epoch FROM {ts}) - extract(epoch FROM {first})) / 86400)::int"

REBUILD = f"""
CREATE FUNCTION user_activity_rebuild(p_names text[], p_users uuid[]) RETURNS void LANGUAGE sql AS $$
  DELETE FROM user_activity_days d USING unnest(p_names, p_users) AS p(name, user_id)
   WHERE d.name = p.name AND d.user_id = p.user_id;
  DELETE FROM user_activity f USING unnest(p_names, p_users) AS p(name, user_id)
   WHERE f.name = p.name AND f.user_id = p.user_id;
  INSERT INTO user_activity (name, user_id, first_at, last_at)
  SELECT e.name, e.user_id, min(e.occurred_at), max(e.occurred_at)
    FROM events e JOIN unnest(p_names, p_users) AS p(name, user_id) ON e.name = p.name AND e.user_id = p.user_id
   GROUP BY e.name, e.user_id;
  INSERT INTO user_activity_days (name, user_id, day)
  SELECT DISTINCT e.name, e.user_id, {DAY_INDEX.format(ts="e.occurred_at", first="f.first_at")}
    FROM events e JOIN user_activity f ON e.name = f.name AND e.user_id = f.user_id
    JOIN unnest(p_names, p_users) AS p(name, user_id) ON e.name = p.name AND e.user_id = p.user_id;
$$
"""

NEW_PAIRS = """(SELECT name, user_id, min(occurred_at) AS lo, max(occurred_at) AS hi
                FROM new_events WHERE user_id IS NOT NULL GROUP BY name, user_id)"""

ON_INSERT = f"""
CREATE FUNCTION user_activity_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Pairs whose first activity moves earlier: every day index shifts, so rebuild them whole.
  PERFORM user_activity_rebuild(array_agg(a.name), array_agg(a.user_id))
     FROM {NEW_PAIRS} a JOIN user_activity f ON f.name = a.name AND f.user_id = a.user_id
    WHERE a.lo < f.first_at;
  INSERT INTO user_activity (name, user_id, first_at, last_at)
  SELECT name, user_id, lo, hi FROM {NEW_PAIRS} a
  ON CONFLICT (name, user_id) DO UPDATE
     SET first_at = least(user_activity.first_at, excluded.first_at),
         last_at = greatest(user_activity.last_at, excluded.last_at);
  INSERT INTO user_activity_days (name, user_id, day)
  SELECT DISTINCT n.name, n.user_id, {DAY_INDEX.format(ts="n.occurred_at", first="f.first_at")}
    FROM new_events n JOIN user_activity f ON f.name = n.name AND f.user_id = n.user_id
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$
"""

ON_CHANGE = """
CREATE FUNCTION user_activity_on_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    PERFORM user_activity_rebuild(array_agg(name), array_agg(user_id)) FROM (
      SELECT name, user_id FROM old_events WHERE user_id IS NOT NULL
      UNION SELECT name, user_id FROM new_events WHERE user_id IS NOT NULL) p;
  ELSE
    PERFORM user_activity_rebuild(array_agg(name), array_agg(user_id)) FROM (
      SELECT DISTINCT name, user_id FROM old_events WHERE user_id IS NOT NULL) p;
  END IF;
  RETURN NULL;
END $$
"""

ON_TRUNCATE = """
CREATE FUNCTION user_activity_on_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE user_activity, user_activity_days;
  RETURN NULL;
END $$
"""

TRIGGERS = (
    "CREATE TRIGGER events_activity_insert AFTER INSERT ON events REFERENCING NEW TABLE AS new_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION user_activity_on_insert()",
    "CREATE TRIGGER events_activity_update AFTER UPDATE ON events "
    "REFERENCING OLD TABLE AS old_events NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION user_activity_on_change()",
    "CREATE TRIGGER events_activity_delete AFTER DELETE ON events REFERENCING OLD TABLE AS old_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION user_activity_on_change()",
    "CREATE TRIGGER events_activity_truncate AFTER TRUNCATE ON events "
    "FOR EACH STATEMENT EXECUTE FUNCTION user_activity_on_truncate()",
)


def upgrade() -> None:
    op.create_table(
        "user_activity",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", "user_id"),
    )
    op.create_table(
        "user_activity_days",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", "user_id", "day"),
    )
    for statement in (REBUILD, ON_INSERT, ON_CHANGE, ON_TRUNCATE, *TRIGGERS):
        op.execute(statement)
    # Backfill from the events already there.
    op.execute(
        "INSERT INTO user_activity (name, user_id, first_at, last_at) "
        "SELECT name, user_id, min(occurred_at), max(occurred_at) FROM events WHERE user_id IS NOT NULL "
        "GROUP BY name, user_id"
    )
    op.execute(
        "INSERT INTO user_activity_days (name, user_id, day) SELECT DISTINCT e.name, e.user_id, "
        + DAY_INDEX.format(ts="e.occurred_at", first="f.first_at")
        + " FROM events e JOIN user_activity f ON e.name = f.name AND e.user_id = f.user_id"
    )


def downgrade() -> None:
    for trigger in ("insert", "update", "delete", "truncate"):
        op.execute(f"DROP TRIGGER events_activity_{trigger} ON events")
    for function in ("user_activity_on_insert()", "user_activity_on_change()", "user_activity_on_truncate()",
                     "user_activity_rebuild(text[], uuid[])"):
        op.execute(f"DROP FUNCTION {function}")
    op.drop_table("user_activity_days")
    op.drop_table("user_activity")
