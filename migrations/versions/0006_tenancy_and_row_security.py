"""Tenancy and row-level security: apps, hashed API keys, idempotent responses, and a second wall.

Every user belongs to an app (a tenant). The service runs its request transactions as the role
`memory_service_app`, which owns nothing, so row-level security applies to it; each transaction
names its tenant and user in the settings app.tenant_id / app.user_id (memory_service/db/scope.py).
Its policies show a tenant only its users, and a user's rows only to that user's scope: a query
that forgets its WHERE returns nothing rather than someone else's data. FORCE applies the policies
to the owner too; the owner's own policy lets it see everything when no scope is set (migrations,
analytics, the CLI) and only the scoped rows when one is. The rollup triggers on events run as
their owner (SECURITY DEFINER), since the service role has no rights on the rollup tables.

Tables added by later migrations get no rights for the service role unless they GRANT them.
The role is cluster-wide, so downgrade revokes its rights here but leaves it in place.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "memory_service_app"  # memory_service.db.scope.APP_ROLE
USER_TABLES = ("conversations", "messages", "memories", "events", "router_calls", "experiment_assignments")
TRIGGER_FUNCTIONS = (
    "user_activity_rebuild(text[], uuid[])", "user_activity_on_insert()", "user_activity_on_change()",
    "user_activity_on_truncate()",
)
SCOPE_FUNCTIONS = """
CREATE FUNCTION ms_scope_user() RETURNS uuid LANGUAGE sql STABLE
  AS $$ SELECT nullif(current_setting('app.user_id', true), '')::uuid $$;
CREATE FUNCTION ms_scope_tenant() RETURNS uuid LANGUAGE sql STABLE
  AS $$ SELECT nullif(current_setting('app.tenant_id', true), '')::uuid $$;
"""


def upgrade() -> None:
    op.create_table(
        "apps",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("app_id", sa.Uuid(), nullable=False),
        sa.Column("prefix", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    op.create_index("ix_api_keys_app_id", "api_keys", ["app_id"])
    op.add_column("users", sa.Column("app_id", sa.Uuid(), nullable=True))
    op.create_foreign_key("users_app_id_fkey", "users", "apps", ["app_id"], ["id"], ondelete="CASCADE")
    op.create_index("ix_users_app_id", "users", ["app_id"])
    op.create_table(
        "idempotent_responses",
        sa.Column("app_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.Text(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("content_type", sa.Text(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["app_id"], ["apps.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("app_id", "key"),
    )
    op.create_index("ix_idempotent_responses_user_id", "idempotent_responses", ["user_id"])

    op.execute(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN "
        f"CREATE ROLE {ROLE} NOLOGIN; END IF; END $$"
    )
    op.execute(f"GRANT {ROLE} TO CURRENT_USER")  # lets a non-superuser owner SET ROLE to it
    op.execute(f"GRANT USAGE ON SCHEMA public TO {ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON users, {', '.join(USER_TABLES)} TO {ROLE}")
    op.execute(f"GRANT USAGE ON SEQUENCE events_id_seq, router_calls_id_seq TO {ROLE}")
    op.execute(SCOPE_FUNCTIONS)
    for function in TRIGGER_FUNCTIONS:
        op.execute(f"ALTER FUNCTION {function} SECURITY DEFINER SET search_path = pg_catalog, public")

    op.execute("ALTER TABLE users ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE users FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY app_scope ON users TO {ROLE} "
        "USING (app_id = ms_scope_tenant() AND (ms_scope_user() IS NULL OR id = ms_scope_user())) "
        "WITH CHECK (app_id = ms_scope_tenant() AND (ms_scope_user() IS NULL OR id = ms_scope_user()))"
    )
    op.execute(
        "CREATE POLICY owner_scope ON users TO CURRENT_USER USING ("
        "(ms_scope_tenant() IS NULL OR app_id = ms_scope_tenant()) AND (ms_scope_user() IS NULL OR id = ms_scope_user()))"
    )
    for table in USER_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY app_scope ON {table} TO {ROLE} "
            "USING (user_id = ms_scope_user()) WITH CHECK (user_id = ms_scope_user())"
        )
        op.execute(
            f"CREATE POLICY owner_scope ON {table} TO CURRENT_USER "
            "USING (ms_scope_user() IS NULL OR user_id = ms_scope_user())"
        )


def downgrade() -> None:
    for table in ("users", *USER_TABLES):
        op.execute(f"DROP POLICY app_scope ON {table}")
        op.execute(f"DROP POLICY owner_scope ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    for function in TRIGGER_FUNCTIONS:
        op.execute(f"ALTER FUNCTION {function} SECURITY INVOKER RESET search_path")
    op.execute("DROP FUNCTION ms_scope_user()")
    op.execute("DROP FUNCTION ms_scope_tenant()")
    op.execute(f"REVOKE ALL ON users, {', '.join(USER_TABLES)} FROM {ROLE}")
    op.execute(f"REVOKE ALL ON SEQUENCE events_id_seq, router_calls_id_seq FROM {ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {ROLE}")
    op.drop_index("ix_idempotent_responses_user_id", table_name="idempotent_responses")
    op.drop_table("idempotent_responses")
    op.drop_index("ix_users_app_id", table_name="users")
    op.drop_constraint("users_app_id_fkey", "users", type_="foreignkey")
    op.drop_column("users", "app_id")
    op.drop_index("ix_api_keys_app_id", table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_table("apps")
