"""Bulk paths for bulk callers (the simulation): `remember_many` writes what `remember` writes, and
`rank_many` returns, pair by pair, exactly what `rank` returns."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from memory_service.db.models import Memory, User
from memory_service.errors import NotFound
from memory_service.memory.policies import load_policies
from memory_service.memory.ranking import RankQuery, rank, rank_many
from memory_service.memory.store import NewMemory, remember, remember_many
from memory_service.users import create_user

NOW = datetime(2026, 6, 1, tzinfo=UTC)
TEXTS = [
    "I miss my grandmother so much since she passed.",
    "We finally adopted the puppy, I'm so happy!",
    "My boss yelled at me again in front of everyone,\tI am furious.",
    "I went to the store and bought some groceries.",
    "I'm scared about the test results coming tomorrow.",
    "yes, last May! \\ with Maya\nin Lisbon",
]
COLUMNS = ("text", "role", "speaker", "seq", "embedding", "tsv", "doc_len", "emotions", "ekman_label", "valence",
           "arousal", "intensity", "importance", "created_at", "mentions", "recall_count")


@pytest.fixture(scope="module")
def encoded(runtime):
    return runtime.embedder.encode(TEXTS)


def _rows(session, user_id):
    memories = session.scalars(select(Memory).where(Memory.user_id == user_id).order_by(Memory.seq)).all()
    return [{c: getattr(m, c) for c in COLUMNS} for m in memories]


def test_remember_many_writes_what_remember_writes(runtime, encoded) -> None:
    with runtime.db.transaction() as session:
        one, many = create_user(session).id, create_user(session).id
        for i, (t, e) in enumerate(zip(TEXTS, encoded)):
            remember(session, user_id=one, text=t, embedding=e.embedding, tags=e.tags,
                     speaker="Maya" if i == 5 else None, created_at=NOW + timedelta(minutes=i))
        ids = remember_many(session, [
            NewMemory(many, t, e.embedding, NOW + timedelta(minutes=i), e.tags, speaker="Maya" if i == 5 else None)
            for i, (t, e) in enumerate(zip(TEXTS, encoded))
        ])
        assert len(set(ids)) == len(TEXTS)
        singly, bulk = _rows(session, one), _rows(session, many)
        assert [r["seq"] for r in bulk] == list(range(1, len(TEXTS) + 1))
        for a, b in zip(singly, bulk, strict=True):
            assert {c: a[c] for c in COLUMNS if c != "embedding"} == {c: b[c] for c in COLUMNS if c != "embedding"}
            assert list(a["embedding"]) == list(b["embedding"])
        assert session.get(User, many).memory_seq == len(TEXTS)
        # Positions continue after the bulk write, whichever path writes next.
        memory, _ = remember(session, user_id=many, text="after", embedding=encoded[0].embedding, created_at=NOW)
        assert memory.seq == len(TEXTS) + 1


def test_remember_many_names_a_missing_user(runtime, encoded) -> None:
    with pytest.raises(NotFound, match="not found"), runtime.db.transaction() as session:
        remember_many(session, [NewMemory(uuid.uuid4(), "x", encoded[0].embedding, NOW)])


def test_rank_many_returns_what_rank_returns_for_each_pair(runtime, encoded) -> None:
    policies = load_policies(runtime.settings.memory_policies_path)
    with runtime.db.transaction() as session:
        users = [create_user(session).id for _ in range(3)]
        empty = create_user(session).id
        remember_many(session, [
            NewMemory(u, t, e.embedding, NOW - timedelta(days=3 * i + j), e.tags)
            for j, u in enumerate(users) for i, (t, e) in enumerate(zip(TEXTS, encoded)) if (i + j) % 4
        ])
        queries = [RankQuery(TEXTS[i], encoded[i].embedding, encoded[i].tags) for i in (0, 2, 4)]
        queries.append(RankQuery("Maya", encoded[5].embedding))  # no tags: a neutral query
        pairs = [(u, q, NOW - timedelta(days=d)) for u in [*users, empty] for q in queries for d in (0, 5)]
        for name in ("recent", "semantic", "hybrid", "emotional"):
            policy = policies.get(name)
            batched = rank_many(session, pairs, policy)
            singly = [rank(session, u, q, policy, now=now) for u, q, now in pairs]
            assert [[m.id for m in r] for r in batched] == [[m.id for m in r] for r in singly], name
            assert [[(m.score, m.components) for m in r] for r in batched] == \
                [[(m.score, m.components) for m in r] for r in singly], name
            assert all(r for r in batched[: 3 * len(queries) * 2]) and not any(batched[-len(queries) * 2:])
        assert rank_many(session, pairs, policies.get("none")) == [[] for _ in pairs]
        assert rank_many(session, [], policies.get("emotional")) == []
        session.rollback()
