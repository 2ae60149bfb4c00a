"""The semantic-candidate strategies of the ranking query agree on a small user, and `auto` gates
its branches on the user's memory count (benchmarks/retrieval.py compares them at scale)."""

import pytest

from memory_service.memory.policies import MemoryPolicy
from memory_service.memory.ranking import SEMANTIC, RankQuery, rank
from memory_service.memory.store import remember
from memory_service.users import create_user

TEXTS = ["I bake sourdough every Sunday.", "My brother lives in Osaka.", "The cat knocked over my tea.",
         "I am training for a half marathon.", "We painted the kitchen yellow.", "My flight to Lima was delayed."]


def test_strategies_agree_and_auto_switches_on_the_count(runtime) -> None:
    encoded = [runtime.embedder.encode_one(t) for t in TEXTS]
    with runtime.db.transaction() as session:
        user_id = create_user(session).id
        for text_, e in zip(TEXTS, encoded, strict=True):
            remember(session, user_id=user_id, text=text_, embedding=e.embedding, tags=e.tags)
    policy = MemoryPolicy(name="semantic-test", weights={"semantic": 1.0}, candidates=3)
    q = runtime.embedder.encode_one("Where does my sibling live?")
    query = RankQuery("Where does my sibling live?", q.embedding, q.tags)

    def ids(**kwargs) -> list:
        with runtime.db.transaction() as session:
            return [m.id for m in rank(session, user_id, query, policy, k=3, **kwargs)]

    exact = ids(strategy="exact")
    assert len(exact) == 3
    with runtime.db.transaction() as session:
        top = rank(session, user_id, query, policy, k=1, strategy="exact")[0]
    assert top.text == "My brother lives in Osaka."
    for strategy in SEMANTIC:
        assert ids(strategy=strategy) == exact, strategy
    assert ids(strategy="auto", exact_max=0) == exact  # six memories > 0: the HNSW branch runs
    assert ids(strategy="auto", exact_max=6) == exact  # at the threshold: the exact branch runs
    with pytest.raises(ValueError, match="unknown candidate strategy 'ivf'"):
        ids(strategy="ivf")
