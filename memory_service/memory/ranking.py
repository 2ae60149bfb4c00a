"""Emotion-weighted ranking of one user's memories, in one SQL round trip.

Semantic candidates come from an exact scan of the user's own rows (through a (user_id, ...) index):
benchmarks/retrieval.py finds it as fast as the HNSW index at 1M memories of 1,000 users, and the
filtered HNSW scan (iterative, strict order) below the 0.98 recall@10 bar for users with 10k-100k
memories, where it is no faster either (README, Figures). `hnsw` and `auto` (exact up to
EXACT_SCAN_MAX_MEMORIES per user, then HNSW) stay selectable. More candidates come from full-text
matches and, for recency-weighted policies, from the latest memories. Each candidate then gets these
terms, each in [0, 1], weighted by the policy:

- semantic:   cosine similarity of the query and memory embeddings;
- context:    mean cosine of the query with the memory's neighbouring turns (a short reply
              like "yes, last May!" is found through the question it answers);
- context_keyword: the same for the neighbours' BM25 scores;
- keyword:    BM25 (k1=1.2, b=0.75) over Postgres English lexemes, with document frequencies
              taken from the user's own memories, divided by the best candidate's score;
- speaker:    1 when the query names the memory's speaker;
- emotion:    congruence of query and memory tags: half valence/arousal closeness, half
              agreement of the Ekman label; 0 for a query that only asks (neutral, curious or
              confused), which has no feeling to match;
- salience:   the memory's emotional intensity;
- recency:    exp(-ln2 · age / half-life);
- importance: the write-time heuristic (memory/importance.py);
- recall:     MemoryBank-style strength: the decay restarts at each recall, and its half-life
              grows with the number of recalls.
"""

import math
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pgvector.sqlalchemy import Vector
from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from memory_service.config import EMBEDDING_DIM
from memory_service.encoder.tags import EmotionTags
from memory_service.memory.policies import MemoryPolicy
from memory_service.memory.store import RecalledMemory, VectorLiterals
from memory_service.observability.metrics import RETRIEVAL_LATENCY

# Valence is in [-1, 1] and arousal in [0, 1], so the largest valence/arousal distance is sqrt(5).
MAX_VA_DISTANCE = math.sqrt(5.0)
TERMS = ("semantic", "context", "keyword", "context_keyword", "speaker", "emotion", "salience", "recency", "importance", "recall")

# Candidate strategies of the semantic step. `(distance) + 0` cannot use the HNSW index, so the planner
# reads the user's rows through its (user_id, ...) index and sorts them: exact, and cheap for small users.
_EXACT = "SELECT m.id FROM memories m, q WHERE m.user_id = :user_id{gate} ORDER BY (m.embedding <=> q.emb) + 0 LIMIT :candidates"
_HNSW = "SELECT m.id FROM memories m, q WHERE m.user_id = :user_id{gate} ORDER BY m.embedding <=> q.emb LIMIT :candidates"
SEMANTIC = {
    "exact": _EXACT.format(gate=""),
    "hnsw": _HNSW.format(gate=""),
    # One-time filters on the user's memory count: only one branch ever runs.
    "auto": "(" + _EXACT.format(gate=" AND (SELECT n FROM corpus) <= :exact_max") + ") UNION ALL ("
    + _HNSW.format(gate=" AND (SELECT n FROM corpus) > :exact_max") + ")",
}
DEFAULT_STRATEGY = "exact"
# `auto` only: HNSW was no faster up to 100k memories per user, at recall@10 ~0.4 (benchmarks/retrieval.py).
EXACT_SCAN_MAX_MEMORIES = 100_000

RANK_SQL_TEMPLATE = """
WITH
q AS (SELECT CAST(:embedding AS vector) AS emb),
terms AS (SELECT DISTINCT unnest(tsvector_to_array(to_tsvector('english', :query))) AS lexeme),
tsq AS (SELECT string_agg(quote_literal(lexeme), ' | ')::tsquery AS query FROM terms),
corpus AS (SELECT count(*) AS n, greatest(avg(doc_len), 1) AS avgdl FROM memories WHERE user_id = :user_id),
semantic AS (SEMANTIC_CTE),
keyword_hits AS (
    SELECT m.id, m.doc_len, u.lexeme, cardinality(u.positions) AS tf
    FROM memories m
    CROSS JOIN tsq
    CROSS JOIN LATERAL unnest(m.tsv) AS u(lexeme, positions, weights)
    WHERE m.user_id = :user_id AND m.tsv @@ tsq.query AND u.lexeme IN (SELECT lexeme FROM terms)
),
df AS (SELECT lexeme, count(*) AS df FROM keyword_hits GROUP BY lexeme),
bm25 AS (
    SELECT h.id,
           sum(ln(1 + (c.n - df.df + 0.5) / (df.df + 0.5))
               * h.tf * 2.2 / (h.tf + 1.2 * (0.25 + 0.75 * h.doc_len / c.avgdl))) AS score
    FROM keyword_hits h JOIN df USING (lexeme) CROSS JOIN corpus c
    GROUP BY h.id
),
latest AS (
    SELECT id FROM memories WHERE user_id = :user_id ORDER BY created_at DESC LIMIT :recent_candidates
),
candidates AS (
    SELECT id FROM semantic
    UNION SELECT id FROM (SELECT id FROM bm25 ORDER BY score DESC LIMIT :candidates) AS top_keyword
    UNION SELECT id FROM latest
),
features AS (
    SELECT m.id, m.text, m.role, m.speaker AS speaker_name, m.created_at,
        1 - (m.embedding <=> q.emb) AS semantic,
        (coalesce(1 - (prev.embedding <=> q.emb), 0) + coalesce(1 - (next.embedding <=> q.emb), 0)) / 2 AS context,
        coalesce(b.score / nullif(max(b.score) OVER (), 0), 0) AS keyword,
        (coalesce(bp.score, 0) + coalesce(bn.score, 0)) / 2 / nullif(max(b.score) OVER (), 0) AS context_keyword,
        CASE WHEN m.speaker <> '' AND strpos(lower(:query), lower(m.speaker)) > 0 THEN 1 ELSE 0 END AS speaker,
        CASE WHEN m.valence IS NULL OR CAST(:q_valence AS real) IS NULL OR :q_ekman = 'neutral' THEN 0 ELSE
            0.5 * greatest(0, 1 - sqrt(power(m.valence - :q_valence, 2)
                                     + power(coalesce(m.arousal, 0) - coalesce(:q_arousal, 0), 2)) / :max_va)
            + 0.5 * (m.ekman_label = :q_ekman)::int
        END AS emotion,
        coalesce(m.intensity, 0) AS salience,
        exp(-ln(2) * greatest(extract(epoch FROM :now - m.created_at), 0) / 86400 / :half_life) AS recency,
        m.importance,
        exp(-ln(2) * greatest(extract(epoch FROM :now - coalesce(m.last_recalled_at, m.created_at)), 0)
            / 86400 / (:half_life * (1 + m.recall_count))) AS recall
    FROM candidates
    JOIN memories m ON m.id = candidates.id AND m.user_id = :user_id  -- prunes to the user's partition or shard
    CROSS JOIN q
    LEFT JOIN memories prev ON prev.user_id = m.user_id AND prev.seq = m.seq - 1
    LEFT JOIN memories next ON next.user_id = m.user_id AND next.seq = m.seq + 1
    LEFT JOIN bm25 b ON b.id = m.id
    LEFT JOIN bm25 bp ON bp.id = prev.id
    LEFT JOIN bm25 bn ON bn.id = next.id
)
SELECT *,
    :w_semantic * semantic + :w_context * context + :w_keyword * keyword
    + :w_context_keyword * coalesce(context_keyword, 0) + :w_speaker * speaker
    + :w_emotion * emotion + :w_salience * salience + :w_recency * recency
    + :w_importance * importance + :w_recall * recall AS score
FROM features
ORDER BY score DESC, created_at DESC
LIMIT :k
"""
RANK_SQL = {
    name: text(RANK_SQL_TEMPLATE.replace("SEMANTIC_CTE", cte)).bindparams(bindparam("embedding", type_=Vector(EMBEDDING_DIM)))
    for name, cte in SEMANTIC.items()
}


# Asking is not feeling: a query whose only labels are these has no emotion for memories to match.
INFORMATION_SEEKING = frozenset({"neutral", "curiosity", "confusion"})


def _felt(tags: EmotionTags | None) -> EmotionTags:
    """The query's tags for congruence; neutral when it only asks (LoCoMo-style questions)."""
    if tags is None or not set(tags.emotions) - INFORMATION_SEEKING:
        return EmotionTags(ekman_label="neutral")
    return tags


@dataclass(frozen=True)
class RankQuery:
    text: str
    embedding: list[float]
    tags: EmotionTags | None = None


# rank_many: the same statement per (user, query) pair, in one round trip. The pair's own values come
# from a row of unnest(...) instead of bind parameters; the policy's stay bind parameters.
_PER_PAIR = ("user_id", "embedding", "query", "q_valence", "q_arousal", "q_ekman", "now")
_PAIR_PARAM = re.compile(r"CAST\(:embedding AS vector\)|:(" + "|".join(_PER_PAIR) + r")\b")
RANK_MANY_SQL = {
    name: text(
        "SELECT p.pair, r.* FROM unnest(CAST(:user_ids AS uuid[]), CAST(CAST(:embeddings AS text[]) AS vector[]),"
        " CAST(:queries AS text[]), CAST(:q_valences AS float8[]), CAST(:q_arousals AS float8[]),"
        " CAST(:q_ekmans AS text[]), CAST(:nows AS timestamptz[])) WITH ORDINALITY"
        " AS p(user_id, embedding, query, q_valence, q_arousal, q_ekman, now, pair)"
        " CROSS JOIN LATERAL ("
        + _PAIR_PARAM.sub(lambda m: "p.embedding" if m.group(1) is None else f"p.{m.group(1)}",
                          RANK_SQL_TEMPLATE.replace("SEMANTIC_CTE", cte))
        + ") AS r ORDER BY p.pair, r.score DESC, r.created_at DESC"
    )
    for name, cte in SEMANTIC.items()
}


def _recalled(r) -> RecalledMemory:
    return RecalledMemory(
        id=r["id"],
        text=r["text"],
        role=r["role"],
        speaker=r["speaker_name"],
        created_at=r["created_at"],
        score=float(r["score"]),
        components={name: round(float(r[name] or 0.0), 4) for name in TERMS},
    )


def _policy_params(policy: MemoryPolicy, k: int, exact_max: int) -> dict:
    weights = policy.weights.model_dump()
    return {
        "exact_max": exact_max,
        "candidates": max(policy.candidates, k),
        "recent_candidates": max(policy.candidates, k) if weights["recency"] > 0 else 0,
        "k": k,
        "half_life": policy.half_life_days,
        "max_va": MAX_VA_DISTANCE,
        **{f"w_{name}": weights[name] for name in TERMS},
    }


def rank_many(
    session: Session,
    pairs: Sequence[tuple[uuid.UUID, RankQuery, datetime]],
    policy: MemoryPolicy,
    *,
    k: int | None = None,
    strategy: str = DEFAULT_STRATEGY,
    exact_max: int = EXACT_SCAN_MAX_MEMORIES,
    literals: VectorLiterals | None = None,
) -> list[list[RecalledMemory]]:
    """`rank` for many (user, query, now) under one policy, in one round trip: for each pair, in order,
    exactly what `rank(session, user, query, policy, k=k, now=now)` returns. For bulk callers (the
    simulation) that would otherwise pay a round trip and a plan per query.

    `literals` formats each embedding object once, across calls when the caller keeps it."""
    k = policy.top_k if k is None else k
    if policy.top_k == 0 or k <= 0 or not pairs:
        return [[] for _ in pairs]
    if strategy not in RANK_MANY_SQL:
        raise ValueError(f"unknown candidate strategy {strategy!r}; known: {sorted(RANK_MANY_SQL)}")
    literals = literals or VectorLiterals()
    felt = [_felt(query.tags) for _, query, _ in pairs]
    session.execute(text("SET LOCAL hnsw.iterative_scan = strict_order"))
    started = time.perf_counter()
    rows = session.execute(
        RANK_MANY_SQL[strategy],
        {
            "user_ids": [user_id for user_id, _, _ in pairs],
            "embeddings": [literals(q.embedding) for _, q, _ in pairs],
            "queries": [q.text for _, q, _ in pairs],
            "q_valences": [t.valence for t in felt],
            "q_arousals": [t.arousal for t in felt],
            "q_ekmans": [t.ekman_label for t in felt],
            "nows": [now for _, _, now in pairs],
            **_policy_params(policy, k, exact_max),
        },
    ).mappings().all()
    RETRIEVAL_LATENCY.labels(policy.name, f"{strategy}-many").observe(time.perf_counter() - started)
    out: list[list[RecalledMemory]] = [[] for _ in pairs]
    for r in rows:
        out[r["pair"] - 1].append(_recalled(r))
    return out


def rank(
    session: Session,
    user_id: uuid.UUID,
    query: RankQuery,
    policy: MemoryPolicy,
    *,
    k: int | None = None,
    now: datetime | None = None,
    strategy: str = DEFAULT_STRATEGY,
    exact_max: int = EXACT_SCAN_MAX_MEMORIES,
) -> list[RecalledMemory]:
    """The user's top-k memories under the policy; an empty list for the `none` policy or no memories."""
    if policy.top_k == 0:  # a policy without memory (`none`) recalls nothing, whatever k asks
        return []
    k = policy.top_k if k is None else k
    if k <= 0:
        return []
    tags = _felt(query.tags)
    # Keep the HNSW scan going until the user filter has yielded enough rows.
    session.execute(text("SET LOCAL hnsw.iterative_scan = strict_order"))
    if strategy not in RANK_SQL:
        raise ValueError(f"unknown candidate strategy {strategy!r}; known: {sorted(RANK_SQL)}")
    started = time.perf_counter()
    rows = session.execute(
        RANK_SQL[strategy],
        {
            "user_id": user_id,
            "embedding": query.embedding,
            "query": query.text,
            "now": now or datetime.now(UTC),
            "q_valence": tags.valence,
            "q_arousal": tags.arousal,
            "q_ekman": tags.ekman_label,
            **_policy_params(policy, k, exact_max),
        },
    ).mappings().all()
    RETRIEVAL_LATENCY.labels(policy.name, strategy).observe(time.perf_counter() - started)
    return [_recalled(r) for r in rows]
