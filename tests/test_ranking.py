"""The ranking query on the real database and encoder: each term does what its name says."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from memory_service.db.models import Memory
from memory_service.memory.policies import MemoryPolicy
from memory_service.memory.ranking import TERMS, RankQuery, rank
from memory_service.memory.store import memory_document, remember
from memory_service.users import create_user

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def only(term: str, **extra) -> MemoryPolicy:
    return MemoryPolicy(name=f"only-{term}", weights={term: 1.0}, **extra)


@pytest.fixture
def memories(runtime):
    """A fresh user with a small, varied memory stream; returns (user_id, add, search)."""
    with runtime.db.transaction() as session:
        user_id = create_user(session).id

    def add(text: str, *, speaker: str | None = None, days_ago: float = 10, dedupe: float = 1.0):
        encoded = runtime.embedder.encode_one(memory_document(text, speaker))
        with runtime.db.transaction() as session:
            memory, created = remember(
                session, user_id=user_id, text=text, speaker=speaker, embedding=encoded.embedding,
                tags=encoded.tags, created_at=NOW - timedelta(days=days_ago), dedupe_threshold=dedupe,
            )
            return memory.id, created

    def search(query: str, policy: MemoryPolicy, k: int = 3):
        encoded = runtime.embedder.encode_one(query)
        with runtime.db.transaction() as session:
            return rank(session, user_id, RankQuery(query, encoded.embedding, encoded.tags), policy, k=k, now=NOW)

    return user_id, add, search


def test_no_memories_and_none_policy_return_nothing(memories) -> None:
    _, add, search = memories
    assert search("anything at all", only("semantic")) == []
    add("I love hiking in the Alps.")
    assert search("hiking", MemoryPolicy(name="none", top_k=0)) == []


def test_semantic_finds_meaning_and_every_term_is_reported(memories) -> None:
    _, add, search = memories
    add("My grandmother taught me to bake bread when I was little.")
    add("The quarterly tax forms are due next week.")
    add("We adopted a grey kitten from the shelter.")
    hits = search("Who showed me how to make baked goods?", only("semantic"))
    assert hits[0].text.startswith("My grandmother")
    assert set(hits[0].components) == set(TERMS)
    assert all(0.0 <= v <= 1.0 for h in hits for v in h.components.values())
    assert hits[0].score == pytest.approx(hits[0].components["semantic"], abs=1e-3)


def test_keyword_matches_rare_words(memories) -> None:
    _, add, search = memories
    add("We spent our honeymoon in Zanzibar.")
    add("Our honeymoon was lovely and relaxing on an island.")
    add("I bought a new island for my kitchen.")
    hits = search("Zanzibar", only("keyword"))
    assert hits[0].text == "We spent our honeymoon in Zanzibar."
    assert hits[0].components["keyword"] == 1.0 and hits[1].components["keyword"] == 0.0


def test_context_finds_a_short_reply_through_its_neighbour(memories) -> None:
    _, add, search = memories
    add("Did you enjoy the cooking class in Tokyo?", speaker="Ana", days_ago=3)
    reply, _ = add("Yes, it was amazing!", speaker="Ben", days_ago=3)
    add("The printer at work is broken again.", speaker="Ben", days_ago=2)
    add("I need to renew my passport.", speaker="Ana", days_ago=1)
    hits = search("What did Ben think of the Tokyo cooking class?", only("context"), k=4)
    assert reply in [h.id for h in hits[:2]]


def test_speaker_named_in_the_query(memories) -> None:
    _, add, search = memories
    ana, _ = add("I started painting last month.", speaker="Ana")
    add("I started painting last month.", speaker="Ben")
    hits = search("What did Ana start?", only("speaker"), k=1)
    assert [h.id for h in hits] == [ana]


def test_recent_policy_takes_the_latest_even_off_topic(memories) -> None:
    _, add, search = memories
    add("Old news about gardening.", days_ago=300)
    newest, _ = add("Something unrelated that happened today.", days_ago=0.1)
    hits = search("gardening", only("recency", half_life_days=7), k=1)
    assert hits[0].id == newest
    assert hits[0].components["recency"] > 0.98


def test_recall_strengthening_slows_fading(runtime, memories) -> None:
    user_id, add, search = memories
    recalled, _ = add("We went to the lake for the weekend.", days_ago=60)
    forgotten, _ = add("We went to the lake on holiday.", days_ago=60)
    with runtime.db.transaction() as session:
        session.execute(
            update(Memory).where(Memory.id == recalled).values(recall_count=3, last_recalled_at=NOW - timedelta(days=5))
        )
    hits = {h.id: h.components["recall"] for h in search("the lake", only("recall"), k=2)}
    assert hits[recalled] > 0.9 > 0.5 > hits[forgotten]


def test_emotional_congruence_prefers_the_matching_feeling(memories) -> None:
    _, add, search = memories
    sad, _ = add("I felt so sad and alone after the move to the new city.")
    happy, _ = add("I was thrilled and so happy after the move to the new city!")
    hits = search("I'm feeling really down and lonely today.", only("emotion"), k=2)
    assert hits[0].id == sad
    assert hits[0].components["emotion"] > hits[1].components["emotion"]


def test_query_text_stays_data(runtime, memories) -> None:
    user_id, add, search = memories
    add("I like tables made of oak.")
    hits = search("'; DROP TABLE memories; -- ) | & ! :* tables", MemoryPolicy(name="mix", weights={"semantic": 1, "keyword": 1}))
    assert hits and hits[0].text == "I like tables made of oak."
    assert search("!!! ??? ...", only("keyword")) is not None  # a query with no lexemes is no error
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Memory).where(Memory.user_id == user_id)) == 1


def test_other_users_memories_are_never_ranked(runtime, memories) -> None:
    _, add, search = memories
    add("I have a blue bicycle.")
    with runtime.db.transaction() as session:
        stranger = create_user(session).id
        encoded = runtime.embedder.encode_one("My secret diary code is 4411.")
        remember(session, user_id=stranger, text="My secret diary code is 4411.", embedding=encoded.embedding)
    hits = search("What is my secret diary code 4411?", MemoryPolicy(name="all", weights={t: 1.0 for t in TERMS}), k=10)
    assert [h.text for h in hits] == ["I have a blue bicycle."]


def test_near_duplicates_strengthen_instead_of_copying(runtime, memories) -> None:
    user_id, add, _ = memories
    first, created = add("My sister Maya lives in Lisbon.", dedupe=0.97)
    again, created_again = add("My sister Maya lives in Lisbon.", dedupe=0.97)
    other, created_other = add("My brother lives in Porto.", dedupe=0.97)
    assert created and not created_again and created_other
    assert again == first != other
    with runtime.db.transaction() as session:
        memory = session.get(Memory, (user_id, first))
        assert memory.mentions == 2 and memory.importance > 0
        assert session.scalar(select(func.count()).select_from(Memory).where(Memory.user_id == user_id)) == 2


def test_positions_follow_the_stream(runtime, memories) -> None:
    user_id, add, _ = memories
    ids = [add(t)[0] for t in ("one", "two", "three")]
    with runtime.db.transaction() as session:
        seqs = [session.get(Memory, (user_id, i)).seq for i in ids]
    assert seqs == [1, 2, 3]


def test_a_question_that_only_asks_has_no_feeling_to_match(memories) -> None:
    _, add, search = memories
    add("I was thrilled and so happy after the move to the new city!")
    add("The move to the new city happened in March.")
    hits = search("When did the move to the new city happen?", only("emotion"), k=2)
    assert [h.components["emotion"] for h in hits] == [0.0, 0.0]
