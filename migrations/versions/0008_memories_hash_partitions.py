"""Hash-partition memories by user: every ranking query reads one partition.

benchmarks/retrieval.py measured 16 hash partitions as the fastest candidate step at 1M memories of
1,000 users (README, Figures), with the exact scan's recall. Possible since 0007 put user_id into
every key of the table. The table is rebuilt in place: same columns, keys, indexes, row-level
security and grants, rows copied; downgrade rebuilds it unpartitioned the same way. The copy and the
index builds hold the table's lock for the whole migration: about 5 minutes for 1M memories here,
most of it the HNSW graphs (README, Figures), so plan it like any table rewrite. On Citus, a
distributed table may itself be partitioned, so this composes with distribution by user.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PARTITIONS = 16  # memory_service.db.models.MEMORY_PARTITIONS
ROLE = "memory_service_app"  # memory_service.db.scope.APP_ROLE

# Everything the table carries besides columns, in the names the models use.
KEYS_AND_INDEXES = """
ALTER TABLE memories ADD CONSTRAINT memories_pkey PRIMARY KEY (user_id, id);
ALTER TABLE memories ADD CONSTRAINT memories_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE memories ADD CONSTRAINT memories_user_id_message_id_fkey FOREIGN KEY (user_id, message_id)
  REFERENCES messages (user_id, id) ON DELETE SET NULL (message_id);
CREATE INDEX ix_memories_user_id_created_at ON memories (user_id, created_at);
CREATE UNIQUE INDEX ix_memories_user_id_seq ON memories (user_id, seq);
CREATE INDEX ix_memories_tsv ON memories USING gin (tsv);
CREATE INDEX ix_memories_embedding_hnsw ON memories USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64);
"""
ROW_SECURITY = f"""
ALTER TABLE memories ENABLE ROW LEVEL SECURITY;
ALTER TABLE memories FORCE ROW LEVEL SECURITY;
CREATE POLICY app_scope ON memories TO {ROLE} USING (user_id = ms_scope_user()) WITH CHECK (user_id = ms_scope_user());
CREATE POLICY owner_scope ON memories TO CURRENT_USER USING (ms_scope_user() IS NULL OR user_id = ms_scope_user());
GRANT SELECT, INSERT, UPDATE, DELETE ON memories TO {ROLE};
"""


def _rebuild(partitioned: bool) -> None:
    op.execute("ALTER TABLE memories RENAME TO memories_old")
    layout = " PARTITION BY HASH (user_id)" if partitioned else ""
    op.execute(f"CREATE TABLE memories (LIKE memories_old INCLUDING DEFAULTS INCLUDING GENERATED){layout}")
    if partitioned:
        for i in range(PARTITIONS):
            op.execute(
                f"CREATE TABLE memories_p{i} PARTITION OF memories FOR VALUES WITH (MODULUS {PARTITIONS}, REMAINDER {i})"
            )
    # Generated columns (tsv, doc_len) are computed again on insert.
    op.execute("""
        DO $$ DECLARE cols text; BEGIN
          SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols FROM pg_attribute
          WHERE attrelid = 'memories_old'::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '';
          EXECUTE format('INSERT INTO memories (%s) SELECT %s FROM memories_old', cols, cols);
        END $$""")
    op.execute("DROP TABLE memories_old")
    op.execute(KEYS_AND_INDEXES)
    op.execute(ROW_SECURITY)


def upgrade() -> None:
    _rebuild(partitioned=True)


def downgrade() -> None:
    _rebuild(partitioned=False)
