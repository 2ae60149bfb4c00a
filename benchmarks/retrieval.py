"""Memory writes and retrieval at scale, printed as JSON. Baselines are measured in the same run.

  .venv/bin/python benchmarks/retrieval.py [--scales 10000,100000,1000000] [--queries 200] [--quick]

- writes: p50 of one remembered message (one MiniLM pass for embedding + emotion tags, then
  `remember` with the hybrid policy's near-duplicate check, committed) against the embedding
  alone (target p50 <= 25 ms).
- retrieval at each scale (users x 1,000 memories; 1,000 users at 1M): p50/p95 of the `hybrid`
  ranking query (embedding excluded; target p95 <= 15 ms) for each semantic-candidate strategy:
    exact        the user's rows through the (user_id, seq) index, sorted by distance, in the
                 user's hash partition (migration 0008; the service default);
    hnsw         HNSW with iterative scan (strict order, pgvector defaults ef_search 40,
                 max_scan_tuples 20000), in the user's partition;
    auto         exact up to EXACT_SCAN_MAX_MEMORIES per user, else hnsw;
    unpartitioned  the exact scan on a plain, unpartitioned copy of the table (the layout before 0008);
  with recall@10 of each against the exact scan (final hybrid top 10 and semantic top 10).
- crossover: heavy users (memories per user beyond 1,000) added to the largest scale, exact vs hnsw.

Synthetic data: unit vectors around 200 topic centres (cosine ~0.5 within a topic, like MiniLM on
related sentences) and short texts drawn from topic words; bulk-loaded with COPY, indexes built after.
A dedicated embedded Postgres runs in --pg-dir (or DATABASE_URL's server, in a scratch database).
"""

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from memory_service.config import EMBEDDING_DIM, Settings  # noqa: E402
from memory_service.db.database import psycopg_url, start_embedded  # noqa: E402
from memory_service.db.migrate import upgrade  # noqa: E402
from memory_service.memory.policies import load_policies  # noqa: E402
from memory_service.memory.ranking import EXACT_SCAN_MAX_MEMORIES, SEMANTIC, RankQuery, rank  # noqa: E402

PER_USER = 1000
TOPICS = 200
NOW = datetime(2026, 12, 1, tzinfo=UTC)
SYLLABLES = "ka lo mi ne ru sa te vi zo pa de fi gu ho ja be co da el ir on ul ar es".split()


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))], 2)


class Synth:
    """Deterministic synthetic memories: embeddings around topic centres, texts from topic words."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = np.random.default_rng(seed)
        c = self.rng.standard_normal((TOPICS, EMBEDDING_DIM)).astype(np.float32)
        self.centres = c / np.linalg.norm(c, axis=1, keepdims=True)
        words = {"".join(self.rng.choice(SYLLABLES, size=self.rng.integers(2, 4))) for _ in range(6000)}
        self.words = np.array(sorted(words))
        self.topic_words = self.rng.choice(len(self.words), size=(TOPICS, 30))

    def embeddings(self, topics: np.ndarray) -> np.ndarray:
        noise = self.rng.standard_normal((len(topics), EMBEDDING_DIM)).astype(np.float32) / np.sqrt(EMBEDDING_DIM)
        e = self.centres[topics] + noise
        return e / np.linalg.norm(e, axis=1, keepdims=True)

    def text(self, topic: int) -> str:
        n = int(self.rng.integers(5, 15))
        own = self.words[self.rng.choice(self.topic_words[topic], size=n // 2)]
        common = self.words[self.rng.integers(0, len(self.words), size=n - n // 2)]
        return " ".join(np.concatenate([own, common]))

    def user_topics(self, n: int) -> np.ndarray:
        favourites = self.rng.choice(TOPICS, size=8, replace=False)
        return favourites[self.rng.integers(0, 8, size=n)]


def load(conn, synth: Synth, sizes: list[int]) -> list[tuple[uuid.UUID, int]]:
    """COPY users and their memories (binary, vectors included); returns (user_id, n) per user."""
    from pgvector.psycopg import register_vector

    register_vector(conn)
    users = [(uuid.uuid4(), n) for n in sizes]
    with conn.cursor() as cur:
        with cur.copy("COPY users (id, name, memory_seq) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["uuid", "text", "int8"])
            for uid, n in users:
                copy.write_row([uid, "bench", n])
        with cur.copy(
            "COPY memories (id, user_id, role, text, seq, embedding, importance, created_at) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["uuid", "uuid", "text", "text", "int8", "vector", "float4", "timestamptz"])
            for uid, n in users:
                topics = synth.user_topics(n)
                embeddings = synth.embeddings(topics)
                for i in range(n):
                    created = NOW - timedelta(minutes=(n - i) * 17)
                    copy.write_row([uuid.uuid4(), uid, "user", synth.text(topics[i]), i + 1, embeddings[i],
                                    float(synth.rng.random()) * 0.5, created])
    return users


INDEXES = [
    "CREATE INDEX ix_memories_user_id_created_at ON memories (user_id, created_at)",
    "CREATE UNIQUE INDEX ix_memories_user_id_seq ON memories (user_id, seq)",
    "CREATE INDEX ix_memories_tsv ON memories USING gin (tsv)",
    "CREATE INDEX ix_memories_embedding_hnsw ON memories USING hnsw (embedding vector_cosine_ops)"
    " WITH (m = 16, ef_construction = 64)",
]


def build_database(engine, synth: Synth, sizes: list[int], unpartitioned: bool) -> tuple[list, dict]:
    """Load with indexes dropped, then build them (HNSW last), as a bulk import would."""
    timings = {}
    with engine.connect() as c:
        c.execute(text("SET maintenance_work_mem = '3GB'"))
        for name in ("ix_memories_user_id_created_at", "ix_memories_user_id_seq", "ix_memories_tsv",
                     "ix_memories_embedding_hnsw"):
            c.execute(text(f"DROP INDEX IF EXISTS {name}"))
        c.commit()
        t = time.perf_counter()
        raw = c.connection.driver_connection
        users = load(raw, synth, sizes)
        raw.commit()
        timings["copy_s"] = round(time.perf_counter() - t, 1)
        for ddl in INDEXES:
            t = time.perf_counter()
            c.execute(text(ddl))
            c.commit()
            timings[ddl.split(" ON ")[0].split()[-1] + "_s"] = round(time.perf_counter() - t, 1)
        if unpartitioned:
            t = time.perf_counter()
            c.execute(text("DROP SCHEMA IF EXISTS flat CASCADE"))
            c.execute(text("CREATE SCHEMA flat"))
            # Same columns (generated ones included) and rows in the same order, in one plain table.
            c.execute(text("CREATE TABLE flat.memories (LIKE public.memories INCLUDING DEFAULTS INCLUDING GENERATED)"))
            cols = ("id, user_id, message_id, role, speaker, text, seq, embedding, emotions, ekman_label, valence,"
                    " arousal, intensity, importance, created_at, last_recalled_at, recall_count, mentions")
            c.execute(text(f"INSERT INTO flat.memories ({cols}) SELECT {cols} FROM public.memories ORDER BY user_id, seq"))
            c.execute(text("CREATE UNIQUE INDEX ON flat.memories (user_id, id)"))
            c.execute(text("CREATE UNIQUE INDEX ON flat.memories (user_id, seq)"))
            c.execute(text("CREATE INDEX ON flat.memories USING gin (tsv)"))
            c.commit()
            timings["unpartitioned_copy_s"] = round(time.perf_counter() - t, 1)
        c.execute(text("ANALYZE"))
        c.commit()
    return users, timings


def queries(synth: Synth, engine, users: list, n: int) -> list[tuple[uuid.UUID, RankQuery]]:
    """A query per sampled user: a perturbed copy of one of its memories and a few of its words."""
    out = []
    with engine.connect() as c:
        for i in range(n):
            uid, size = users[int(synth.rng.integers(0, len(users)))]
            seq = int(synth.rng.integers(1, size + 1))
            row = c.execute(text("SELECT text, embedding::text FROM memories WHERE user_id = :u AND seq = :s"),
                            {"u": uid, "s": seq}).one()
            e = np.array(json.loads(row[1]), dtype=np.float32)
            e = e + synth.rng.standard_normal(EMBEDDING_DIM).astype(np.float32) * 0.7 / np.sqrt(EMBEDDING_DIM)
            words = row[0].split()
            query = " ".join(synth.rng.choice(words, size=min(4, len(words)), replace=False))
            out.append((uid, RankQuery(query, (e / np.linalg.norm(e)).tolist())))
    return out


def semantic_top10(session, strategy: str, uid, q: RankQuery, exact_max: int) -> list:
    cte = SEMANTIC[strategy if strategy in SEMANTIC else "exact"]
    sql = (f"WITH q AS (SELECT CAST(:e AS vector) AS emb), corpus AS (SELECT count(*) AS n FROM memories"
           f" WHERE user_id = :user_id), semantic AS ({cte}) SELECT id FROM semantic")
    session.execute(text("SET LOCAL hnsw.iterative_scan = strict_order"))
    return [r[0] for r in session.execute(text(sql), {"e": str(q.embedding), "user_id": uid, "candidates": 10,
                                                      "exact_max": exact_max})]


def _rank(sessions, strategy: str, uid, q: RankQuery, policy, exact_max: int) -> tuple[float, list]:
    """One ranking call in its own transaction, as a chat turn runs it; (ms, ids)."""
    with sessions.begin() as s:
        if strategy == "unpartitioned":
            s.execute(text("SET LOCAL search_path = flat, public"))
        t = time.perf_counter()
        hits = rank(s, uid, q, policy, k=10, now=NOW, strategy="exact" if strategy == "unpartitioned" else strategy,
                    exact_max=exact_max)
        return (time.perf_counter() - t) * 1000, [h.id for h in hits]


def _semantic(sessions, strategy: str, uid, q: RankQuery, exact_max: int) -> list:
    with sessions.begin() as s:
        if strategy == "unpartitioned":
            s.execute(text("SET LOCAL search_path = flat, public"))
        return semantic_top10(s, "exact" if strategy == "unpartitioned" else strategy, uid, q, exact_max)


def recall(found: list[list], truth: list[list]) -> float:
    scores = [len(set(f) & set(t)) / max(1, min(10, len(t))) for f, t in zip(found, truth, strict=True)]
    return round(statistics.mean(scores), 4)


def measure(engine, qs, policy, strategies: list[str], exact_max: int) -> dict:
    """Strategies take turns query by query (in rotating order), so machine load hits them alike."""
    sessions = sessionmaker(engine)
    strategies = ["exact", *[s for s in strategies if s != "exact"]]
    for uid, q in qs[:5]:  # warm caches
        for strategy in strategies:
            _rank(sessions, strategy, uid, q, policy, exact_max)
    times = {s: [] for s in strategies}
    ranked = {s: [] for s in strategies}
    semantic = {s: [] for s in strategies}
    for i, (uid, q) in enumerate(qs):
        for strategy in strategies[i % len(strategies):] + strategies[: i % len(strategies)]:
            ms, ids = _rank(sessions, strategy, uid, q, policy, exact_max)
            times[strategy].append(ms)
            ranked[strategy].append(ids)
            semantic[strategy].append(_semantic(sessions, strategy, uid, q, exact_max))
    return {
        s: {"p50_ms": pct(times[s], 50), "p95_ms": pct(times[s], 95),
            "recall_at_10": recall(ranked[s], ranked["exact"]),
            "semantic_recall_at_10": recall(semantic[s], semantic["exact"])}
        for s in strategies
    }


def writes(engine, users, policy, n: int, settings: Settings) -> dict:
    """p50 of a remembered message (encode + remember + commit) against the embedding alone."""
    from memory_service.memory.store import remember
    from memory_service.runtime import build_encoder

    encoder = build_encoder(settings)
    sessions = sessionmaker(engine)
    rng = np.random.default_rng(3)
    texts = [f"Message {i}: we talked about the {w} trip and my sister's new job in {c}." for i, (w, c) in
             enumerate(zip(rng.choice(["beach", "ski", "camping", "city", "wedding"], n + 5),
                           rng.choice(["Lisbon", "Oslo", "Kyoto", "Lima", "Accra"], n + 5)))]
    for t in texts[:5]:
        encoder.embed_one(t)
    embed_ms, write_ms, db_ms = [], [], []
    for i, t in enumerate(texts[5:]):
        uid = users[i % len(users)][0]
        start = time.perf_counter()
        encoder.embed_one(t)
        embed_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        encoded = encoder.encode_one(t)
        mid = time.perf_counter()
        with sessions.begin() as s:
            remember(s, user_id=uid, text=t, embedding=encoded.embedding, tags=encoded.tags,
                     dedupe_threshold=policy.dedupe_threshold)
        end = time.perf_counter()
        write_ms.append((end - start) * 1000)
        db_ms.append((end - mid) * 1000)
    return {
        "n": n, "encoder": encoder.name, "table_rows": sum(u[1] for u in users),
        "remember_p50_ms": pct(write_ms, 50), "remember_p95_ms": pct(write_ms, 95),
        "baseline_embedding_only_p50_ms": pct(embed_ms, 50),
        "database_part_p50_ms": pct(db_ms, 50), "target_p50_ms": 25,
    }


def reuse(admin_url: str, name: str, rows: int):
    """A database this script built before with at least `rows` memories: (engine, users), else None."""
    admin = create_engine(admin_url)
    with admin.connect() as c:
        found = c.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
    admin.dispose()
    if not found:
        return None
    engine = create_engine(make_url(admin_url).set(database=name).render_as_string(hide_password=False))
    with engine.connect() as c:
        counts = c.execute(text("SELECT user_id, count(*) FROM memories GROUP BY user_id")).all()
    if sum(n for _, n in counts) < rows:
        engine.dispose()
        return None
    # Earlier write measurements added a few rows to the 1,000-memory users.
    return engine, [(uid, PER_USER if n < 2 * PER_USER else n) for uid, n in counts]


def scratch_engine(admin_url: str, name: str):
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    upgrade(engine)
    return engine, url


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", default="10000,100000,1000000", help="total memories, 1,000 per user")
    ap.add_argument("--heavy", default="10000,30000,100000",
                    help="memories of extra users added to the largest scale, for the crossover ('' for none)")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--writes", type=int, default=200)
    ap.add_argument("--no-unpartitioned", action="store_true", help="skip the plain-table baseline")
    ap.add_argument("--reuse", action="store_true", help="measure again on databases an earlier run built")
    ap.add_argument("--quick", action="store_true", help="10k and 50k memories, 60 queries, no heavy users")
    ap.add_argument("--pg-dir", type=Path, default=None, help="embedded Postgres data dir (default: a temp dir)")
    args = ap.parse_args()
    if args.quick:
        args.scales, args.heavy, args.queries, args.writes = "10000,50000", "", 60, 60
    scales = [int(s) for s in args.scales.split(",") if s]
    heavy = [int(s) for s in args.heavy.split(",") if s]

    settings = Settings()
    policy = load_policies(settings.memory_policies_path).get("hybrid")
    server, temp_dir = None, None
    if settings.database_url:
        admin_url = psycopg_url(settings.database_url)
    else:
        temp_dir = None if args.pg_dir else Path(tempfile.mkdtemp(prefix="bench-pg-"))
        pg_dir = args.pg_dir or temp_dir
        server = start_embedded(pg_dir)
        admin_url = psycopg_url(server.get_uri())
    strategies = ["exact", "hnsw", "auto"] + ([] if args.no_unpartitioned else ["unpartitioned"])
    out: dict = {"policy": policy.name, "candidates": policy.candidates, "per_user": PER_USER,
                 "exact_scan_max_memories": EXACT_SCAN_MAX_MEMORIES, "scales": {}}
    try:
        for i, scale in enumerate(scales):
            last = i == len(scales) - 1
            sizes = [PER_USER] * (scale // PER_USER) + (heavy if last else [])
            synth = Synth()
            name = f"bench_retrieval_{scale}"
            reused = reuse(admin_url, name, sum(sizes)) if args.reuse else None
            if reused is not None:
                engine, users = reused
                timings = {"reused": True}
            else:
                engine, _ = scratch_engine(admin_url, name)
                t = time.perf_counter()
                users, timings = build_database(engine, synth, sizes, unpartitioned=not args.no_unpartitioned)
                timings["total_build_s"] = round(time.perf_counter() - t, 1)
            normal = [u for u in users if u[1] == PER_USER]
            entry = {"memories": sum(sizes), "users": len(users), "build": timings,
                     "strategies": measure(engine, queries(synth, engine, normal, args.queries), policy,
                                           strategies, EXACT_SCAN_MAX_MEMORIES)}
            if last and heavy:
                entry["crossover"] = {}
                for uid, n in (u for u in users if u[1] != PER_USER):
                    qs = queries(synth, engine, [(uid, n)], max(20, args.queries // 5))
                    entry["crossover"][str(n)] = measure(engine, qs, policy, ["exact", "hnsw"], EXACT_SCAN_MAX_MEMORIES)
            if last:
                out["writes"] = writes(engine, normal, policy, args.writes, settings)
            out["scales"][str(scale)] = entry
            print(json.dumps({"scale": scale, **entry}), file=sys.stderr, flush=True)
            engine.dispose()
    finally:
        if server is not None:
            server.cleanup()
        if temp_dir is not None:  # the 1M-memory data set takes ~9 GB
            shutil.rmtree(temp_dir, ignore_errors=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
