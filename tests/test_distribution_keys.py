"""The schema can be distributed by user with Citus as it is (migration 0007, README "Past one machine").

Citus refuses a distributed table whose distribution column may be NULL, or whose primary key, unique
keys or foreign keys to other distributed tables leave that column out; these tests read the same
facts from the catalog, so a later migration that breaks them fails here rather than at
create_distributed_table."""

import uuid

from sqlalchemy import create_engine, text

from memory_service.db.migrate import upgrade

# Distributed by user_id, colocated with users (distributed by id). apps and api_keys are reference
# tables; idempotent_responses, an app's request cache whose user may be unknown, is distributed by app_id.
BY_USER = (
    "conversations", "messages", "memories", "events", "router_calls",
    "experiment_assignments", "user_activity", "user_activity_days",
)
DISTRIBUTED = {"users": "id", **{t: "user_id" for t in BY_USER}}

# Column names of a key, in key order (a foreign key's columns pair up by position).
NAMES = "array(SELECT a.attname FROM unnest({key}) WITH ORDINALITY k(n, i)" \
    " JOIN pg_attribute a ON a.attrelid = {rel} AND a.attnum = k.n ORDER BY k.i)"
KEYS = text(
    f"SELECT c.conname, c.contype, {NAMES.format(key='c.conkey', rel='c.conrelid')}, c.confrelid::regclass::text,"
    f" {NAMES.format(key='c.confkey', rel='c.confrelid')}"
    " FROM pg_constraint c WHERE c.conrelid = CAST(:table AS regclass) AND c.contype IN ('p', 'u', 'f')"
)
UNIQUE_INDEXES = text(
    f"SELECT i.indexrelid::regclass::text, {NAMES.format(key='i.indkey::int2[]', rel='i.indrelid')}"
    " FROM pg_index i WHERE i.indrelid = CAST(:table AS regclass) AND i.indisunique"
)


def test_every_per_user_key_carries_the_distribution_column(runtime) -> None:
    with runtime.db.engine.connect() as conn:
        for table, column in DISTRIBUTED.items():
            not_null = conn.execute(
                text("SELECT attnotnull FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) AND attname = :c"),
                {"t": table, "c": column},
            ).scalar()
            assert not_null, f"{table}.{column} may be NULL"
            constraints = conn.execute(KEYS, {"table": table}).all()
            assert any(kind == "p" for _, kind, *_ in constraints), f"{table} has no primary key"
            for name, kind, columns, target, target_columns in constraints:
                if kind in ("p", "u"):
                    assert column in columns, f"{table}: key {name} {columns} leaves out {column}"
                elif target in DISTRIBUTED:  # a foreign key between distributed tables
                    pairs = dict(zip(columns, target_columns, strict=True))
                    assert pairs.get(column) == DISTRIBUTED[target], f"{table}: {name} {columns} -> {target}{target_columns}"
            for name, columns in conn.execute(UNIQUE_INDEXES, {"table": table}):
                assert column in columns, f"{table}: unique index {name} {columns} leaves out {column}"


def test_deleting_a_message_keeps_its_memory(runtime, client, user_id) -> None:
    """The composite memory -> message key nulls message_id only, never the memory's user_id."""
    turn = client.post("/v1/chat", json={"user_id": user_id, "message": "My cat Miso turned five today."})
    assert turn.status_code == 200, turn.text
    uid = uuid.UUID(user_id)
    with runtime.db.transaction() as session:
        message_id = session.execute(
            text("SELECT message_id FROM memories WHERE user_id = :u AND message_id IS NOT NULL"), {"u": uid}
        ).scalar_one()
        session.execute(text("DELETE FROM messages WHERE user_id = :u AND id = :m"), {"u": uid, "m": message_id})
    with runtime.db.transaction() as session:
        left = session.execute(text("SELECT user_id, message_id, text FROM memories WHERE user_id = :u"), {"u": uid}).one()
    assert left.user_id == uid and left.message_id is None and "Miso" in left.text


def test_upgrade_keeps_events_logged_without_a_user(scratch_db_url: str) -> None:
    """Rows older code wrote with a NULL user_id get a random one (as erasure pseudonymizes), not dropped."""
    engine = create_engine(scratch_db_url)
    try:
        upgrade(engine, "0006")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO events (user_id, name) VALUES (NULL, 'legacy'), (gen_random_uuid(), 'kept')"))
            conn.execute(text(
                "INSERT INTO router_calls (user_id, route, reason, backend, model, prompt_tokens, completion_tokens,"
                " latency_ms, cost, streamed) VALUES (NULL, 'r', 'x', 'b', 'm', 1, 1, 1, 0, false)"
            ))
        upgrade(engine)
        with engine.connect() as conn:
            events = conn.execute(text("SELECT name, user_id FROM events ORDER BY name")).all()
            calls = conn.execute(text("SELECT user_id FROM router_calls")).scalars().all()
        assert [name for name, _ in events] == ["kept", "legacy"] and all(u is not None for _, u in events)
        assert len(calls) == 1 and calls[0] is not None
    finally:
        engine.dispose()
