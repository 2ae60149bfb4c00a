"""Simulated users with a known effect of emotionally congruent recall on returning, so that the
retention analytics can be checked against the truth.

Each user is assigned an arm by the real experiment assignment (sticky row + exposure event), then
lives day by day: on an active day they open a session and send messages, each a GoEmotions text
(one stock sentence per Ekman label without the data). Every message is stored as a real memory
row of the user (the encoder's embedding and tags, each distinct text encoded once), and once per
session the real ranking SQL recalls the user's memories for the session's last message under the
arm's memory policy, at that message's simulated time (the service recalls for every message; one
recall a session keeps 10k users × 30 days within 2 minutes, and the last message is the one that
sees the session's earlier messages, so even a signup session can recall). A recall is congruent
when the top recalled memory's Ekman label (its stored tags) equals the message's (its tags from
the same encoder). The chance of coming back on a given day is base · decay^age + effect · (share of
congruent recalls so far), so the arms differ only through what the store recalls. No LLM runs.

Time order holds because the world advances one calendar day at a time for everyone (a user has at
most one session a day): the day's messages but each session's last are stored, the sessions are
ranked, then the last messages are stored. Ranking is batched per day and policy (`rank_many`: the
same SQL as `rank`, one round trip), memories are written with one COPY per batch (`remember_many`);
near-duplicates are merged as `remember` does, decided here on the vectors already in hand."""

import csv
import io
import json
import logging
import math
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text
from sqlalchemy.orm import Session

from memory_service.db.models import Memory
from memory_service.encoder.encoder import Encoded, Encoder
from memory_service.experiments.assignment import assign_many
from memory_service.experiments.config import Experiment
from memory_service.memory.policies import MemoryPolicy, PolicyConfig
from memory_service.memory.ranking import RankQuery, rank_many
from memory_service.memory.store import NewMemory, VectorLiterals, remember_many

log = logging.getLogger(__name__)

EMOTIONS = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")
FALLBACK_TEXT = {
    "anger": "I am so angry about how my boss treated me today.",
    "disgust": "That restaurant was disgusting, I feel sick thinking about it.",
    "fear": "I'm scared about the test results coming tomorrow.",
    "joy": "We finally adopted the puppy, I'm so happy!",
    "neutral": "I went to the store and bought some groceries.",
    "sadness": "I miss my grandmother so much since she passed.",
    "surprise": "I can't believe they threw me a surprise party!",
}
DAY = timedelta(days=1)


class SimulationSpec(BaseModel):
    """The world's parameters; the effect of congruent recall is `effect` (0 means none)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    users: int = Field(ge=1, le=1_000_000)
    days: int = Field(ge=1, le=365)
    seed: int = 0
    start: datetime = datetime(2027, 1, 1, tzinfo=UTC)
    base_return: float = Field(default=0.35, ge=0, le=1)  # chance of returning the day after signup
    decay: float = Field(default=0.93, gt=0, le=1)  # per day of age
    effect: float = Field(default=0.30, ge=0, le=1)  # added return chance at 100% congruent recalls
    messages_per_day: float = Field(default=3.0, gt=0)
    # Texts drawn per Ekman label (fewer when the data has fewer): each is encoded once, and the
    # encoder is the cost (20-30 ms a text on 2 shared cores: 60 per label is 8-12 s).
    texts_per_emotion: int = Field(default=60, ge=1, le=100_000)


@dataclass
class SimulatedUser:
    id: uuid.UUID
    arm: str
    policy: MemoryPolicy
    signup: datetime
    dominant: str
    memories: list[tuple[uuid.UUID, int]] = field(default_factory=list)  # (memory id, corpus index), oldest first
    recalls: int = 0
    congruent: int = 0

    def return_chance(self, spec: SimulationSpec, age: int) -> float:
        share = self.congruent / self.recalls if self.recalls else 0.0
        return min(0.98, spec.base_return * spec.decay ** (age - 1) + spec.effect * share)


def load_texts(data_dir: Path | None) -> dict[str, list[str]]:
    """Single-label GoEmotions (Ekman) dev texts per emotion; one stock sentence each without the data."""
    path = data_dir / "goemotions" / "ekman" / "dev.tsv" if data_dir else None
    if path is None or not path.exists():
        return {e: [t] for e, t in FALLBACK_TEXT.items()}
    labels = (path.parent / "labels.txt").read_text().split()
    texts: dict[str, list[str]] = {e: [] for e in EMOTIONS}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) >= 2 and "," not in row[1]:
                texts[labels[int(row[1])]].append(row[0])
    return {e: t or [FALLBACK_TEXT[e]] for e, t in texts.items()}


@dataclass(frozen=True)
class Corpus:
    """The message texts, each encoded once by the real encoder; messages and memories reuse them."""

    texts: list[str]
    gold: list[str]  # the GoEmotions Ekman label each text was drawn under
    encoded: list[Encoded]
    by_emotion: dict[str, list[int]]  # GoEmotions Ekman label -> indices of its texts
    unit: np.ndarray  # (n, dim) embeddings, for near-duplicate decisions
    literals: VectorLiterals = field(default_factory=VectorLiterals)  # each embedding formatted for SQL once

    def near(self, threshold: float) -> list[frozenset[int]]:
        """For each text, the texts at cosine >= threshold (itself included): `remember`'s merge test."""
        cos = self.unit @ self.unit.T
        return [frozenset(np.flatnonzero(row >= threshold).tolist()) | {i} for i, row in enumerate(cos)]


def encode_corpus(encoder: Encoder, texts: dict[str, list[str]], per_emotion: int, seed: int) -> Corpus:
    """Up to per_emotion texts of each label (a seeded sample), encoded in one batch."""
    rng = random.Random(seed)
    pool: list[str] = []
    gold: list[str] = []
    by_emotion: dict[str, list[int]] = {}
    for emotion in EMOTIONS:
        options = sorted(set(texts.get(emotion) or [FALLBACK_TEXT[emotion]]))
        chosen = rng.sample(options, min(per_emotion, len(options)))
        by_emotion[emotion] = list(range(len(pool), len(pool) + len(chosen)))
        pool.extend(chosen)
        gold.extend([emotion] * len(chosen))
    encoded = encoder.encode(pool)
    return Corpus(pool, gold, encoded, by_emotion, np.asarray([e.embedding for e in encoded], dtype=np.float32))


AssignFn = Callable[[Session, list[uuid.UUID], list[datetime]], list[tuple[str, str] | None]]


def experiment_assigner(experiment: Experiment, policies: PolicyConfig) -> AssignFn:
    """The real, sticky assignment of memory_service.experiments, in bulk: per user (arm, memory
    policy) or None, stored with its exposure event at the user's signup time."""

    def _assign(session: Session, user_ids: list[uuid.UUID], at: list[datetime]) -> list[tuple[str, str] | None]:
        choices = assign_many(session, experiment, policies, user_ids, at)
        return [(c.arm, c.policy_name) if c is not None else None for c in choices]

    return _assign


class EventBuffer:
    """Rows for one COPY into events: the activity rollup's trigger then runs once for them all."""

    def __init__(self) -> None:
        self.rows = io.StringIO()
        self.count = 0

    def add(self, user_id: uuid.UUID, name: str, at: datetime, **properties) -> None:
        props = json.dumps(properties).replace("\\", "\\\\")
        self.rows.write(f"{user_id}\t{name}\t{at.isoformat()}\t{props}\n")
        self.count += 1

    def flush(self, session: Session) -> None:
        cursor = session.connection().connection.driver_connection.cursor()
        with cursor.copy("COPY events (user_id, name, occurred_at, properties) FROM STDIN") as copy:
            copy.write(self.rows.getvalue())


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    k, p, limit = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


@dataclass(frozen=True)
class SimulationResult:
    users: int
    events: int
    arms: dict[str, int]
    memories: int = 0  # rows written (near-duplicates merge instead)
    recalls: int = 0  # sessions whose ranking returned memories
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per phase


@dataclass
class _Session:
    """One user's session on the current day: its start, and its messages (corpus index, time)."""

    user: SimulatedUser
    at: datetime
    messages: list[tuple[int, datetime]]


class _Clock:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] = self.seconds.get(phase, 0.0) + now - self._last
        self._last = now


def _sessions_of_day(users: list[SimulatedUser], day: datetime, end: datetime, spec: SimulationSpec,
                     corpus: Corpus, rng: random.Random) -> list[_Session]:
    """Who is active on this calendar day, when, and what they say."""
    sessions = []
    for user in users:
        signup_day = user.signup.replace(hour=0, minute=0, second=0, microsecond=0)
        if signup_day > day:
            continue
        age = (day - signup_day).days
        if age == 0:
            at = user.signup
        elif rng.random() < user.return_chance(spec, age):
            at = day + timedelta(seconds=rng.uniform(6 * 3600, 23 * 3600))
        else:
            continue
        if at >= end:
            continue
        messages = []
        sent = at
        for _ in range(1 + _poisson(rng, spec.messages_per_day - 1)):
            emotion = user.dominant if rng.random() < 0.5 else rng.choice(EMOTIONS)
            messages.append((rng.choice(corpus.by_emotion[emotion]), sent))
            sent += timedelta(seconds=rng.uniform(20, 240))
        sessions.append(_Session(user, at, messages))
    return sessions


def _recall(session: Session, sessions: list[_Session], corpus: Corpus, label_of: dict[uuid.UUID, str | None],
            events: EventBuffer) -> int:
    """Rank each session's last message against the user's memories (this session's earlier messages
    included), per policy in one round trip; log the recalls and strengthen the recalled memories as
    the service does."""
    by_policy: dict[str, list[_Session]] = {}
    for s in sessions:
        if s.user.policy.top_k > 0 and s.user.memories:  # `none` never ranks; nothing to rank without memories
            by_policy.setdefault(s.user.policy.name, []).append(s)
    recalled: list[tuple[uuid.UUID, uuid.UUID, datetime]] = []
    for name in sorted(by_policy):
        group = by_policy[name]
        pairs = []
        for s in group:
            index, at = s.messages[-1]
            query = corpus.encoded[index]
            pairs.append((s.user.id, RankQuery(corpus.texts[index], query.embedding, query.tags), at))
        for s, memories in zip(group, rank_many(session, pairs, group[0].user.policy, literals=corpus.literals), strict=True):
            if not memories:
                continue
            index, at = s.messages[-1]
            felt = corpus.encoded[index].tags.ekman_label
            congruent = label_of[memories[0].id] == felt
            s.user.recalls += 1
            s.user.congruent += congruent
            events.add(s.user.id, "memory_recalled", at, count=len(memories), congruent=congruent, emotion=felt,
                       policy=name, memory_ids=[str(m.id) for m in memories])
            recalled.extend((s.user.id, m.id, at) for m in memories)
    if recalled:
        users, ids, ats = zip(*recalled, strict=True)
        session.execute(
            text(
                "UPDATE memories m SET recall_count = m.recall_count + 1, last_recalled_at = r.at"
                " FROM unnest(CAST(:users AS uuid[]), CAST(:ids AS uuid[]), CAST(:ats AS timestamptz[]))"
                " AS r(user_id, id, at) WHERE m.user_id = r.user_id AND m.id = r.id"
            ),
            {"users": list(users), "ids": list(ids), "ats": list(ats)},
        )
    return len({(u, a) for u, _, a in recalled})


def _remember(session: Session, messages: list[tuple[SimulatedUser, int, datetime]], corpus: Corpus,
              near: dict[float, list[frozenset[int]]], label_of: dict[uuid.UUID, str | None],
              rng: random.Random) -> int:
    """Store messages as memories, in order; a near-duplicate of one the user has strengthens it instead."""
    rows: list[NewMemory] = []
    merges: dict[tuple[uuid.UUID, uuid.UUID], int] = {}  # (user, memory) strengthened -> how often
    for user, index, at in messages:
        close = near[user.policy.dedupe_threshold][index]
        duplicates = [i for i, (_, other) in enumerate(user.memories) if other in close]
        if duplicates:  # the nearest one, as `remember` merges into the nearest
            best = max(duplicates, key=lambda i: float(corpus.unit[index] @ corpus.unit[user.memories[i][1]]))
            key = (user.id, user.memories[best][0])
            merges[key] = merges.get(key, 0) + 1
            continue
        encoded = corpus.encoded[index]
        memory_id = uuid.UUID(int=rng.getrandbits(128), version=4)  # seeded: the same ids every run
        rows.append(NewMemory(user.id, corpus.texts[index], encoded.embedding, at, encoded.tags, id=memory_id))
        user.memories.append((memory_id, index))
        label_of[memory_id] = encoded.tags.ekman_label
    remember_many(session, rows, corpus.literals)
    if merges:
        (users, ids) = zip(*merges, strict=True)
        session.execute(
            text(
                "UPDATE memories m SET mentions = m.mentions + r.n, importance = least(1, m.importance + 0.1 * r.n)"
                " FROM unnest(CAST(:users AS uuid[]), CAST(:ids AS uuid[]), CAST(:ns AS int[])) AS r(user_id, id, n)"
                " WHERE m.user_id = r.user_id AND m.id = r.id"
            ),
            {"users": list(users), "ids": list(ids), "ns": list(merges.values())},
        )
    return len(rows)


def _defer_bulk_indexes(session: Session) -> list:
    """Into an empty memories table, drop the vector (HNSW) and full-text (GIN) indexes now and build
    them at the end.

    Inserting row by row into an HNSW graph costs about 0.4 ms a memory here, three times a build
    over the finished table, and GIN inserts are dearer than a build too; the simulation ranks with
    the exact scan, which does not use HNSW (the GIN index only speeds up keyword matching). Only
    when the table is empty (a fresh database, as analytics checks use): the drop locks the table
    until commit, and rebuilding over others' memories would cost more than it saves."""
    if session.execute(text("SELECT EXISTS (SELECT 1 FROM memories)")).scalar():
        return []
    indexes = [i for i in Memory.__table__.indexes if i.dialect_options["postgresql"].get("using") in ("hnsw", "gin")]
    present = set(session.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'memories'")).scalars())
    indexes = [i for i in indexes if i.name in present]
    for index in indexes:
        index.drop(session.connection())
    return indexes


def simulate(
    session: Session,
    spec: SimulationSpec,
    assign_arm: AssignFn,
    texts: dict[str, list[str]],
    *,
    encoder: Encoder,
    policies: PolicyConfig,
) -> SimulationResult:
    """Writes users, assignments, exposures, memories and the event log in the caller's transaction.

    Deterministic for a seed (given the same encoder and an empty start: memory ids are random)."""
    clock = _Clock()
    rng = random.Random(spec.seed)
    users: list[SimulatedUser] = []
    ids = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(spec.users)]
    signups = [spec.start + timedelta(seconds=rng.uniform(0, spec.days * 86400)) for _ in ids]
    session.execute(
        text(
            "INSERT INTO users (id, name, created_at) SELECT id, 'sim-' || (n - 1), at"
            " FROM unnest(CAST(:ids AS uuid[]), CAST(:ats AS timestamptz[])) WITH ORDINALITY AS u(id, at, n)"
        ),
        {"ids": ids, "ats": signups},
    )
    arms: dict[str, int] = {}
    for user_id, signup, assigned in zip(ids, signups, assign_arm(session, ids, signups), strict=True):
        arm, policy = assigned if assigned is not None else ("(not exposed)", policies.default)
        arms[arm] = arms.get(arm, 0) + 1
        users.append(SimulatedUser(user_id, arm, policies.get(policy), signup, rng.choice(EMOTIONS)))
    clock.lap("users_and_assignment")
    deferred = _defer_bulk_indexes(session)
    corpus = encode_corpus(encoder, texts, spec.texts_per_emotion, spec.seed)
    near = {t: corpus.near(t) for t in {u.policy.dedupe_threshold for u in users}}
    clock.lap("encode")

    events = EventBuffer()
    for user in users:
        events.add(user.id, "user_created", user.signup)
    label_of: dict[uuid.UUID, str | None] = {}
    end = spec.start + timedelta(days=spec.days)
    day = spec.start.replace(hour=0, minute=0, second=0, microsecond=0)
    memories = recalls = 0
    while day < end:
        sessions = _sessions_of_day(users, day, end, spec, corpus, rng)
        clock.lap("plan")
        for s in sessions:
            events.add(s.user.id, "session_start", s.at)
            for index, at in s.messages:
                events.add(s.user.id, "message_sent", at, chars=len(corpus.texts[index]), emotion=corpus.gold[index],
                           arm=s.user.arm, policy=s.user.policy.name)
        memories += _remember(session, [(s.user, i, at) for s in sessions for i, at in s.messages[:-1]], corpus,
                              near, label_of, rng)
        clock.lap("remember")
        recalls += _recall(session, sessions, corpus, label_of, events)
        clock.lap("rank")
        memories += _remember(session, [(s.user, *s.messages[-1]) for s in sessions], corpus, near, label_of, rng)
        clock.lap("remember")
        day += DAY
    events.flush(session)
    clock.lap("events")
    if deferred:
        session.execute(text("SET LOCAL maintenance_work_mem = '1GB'"))  # the graph is built in memory
        for index in deferred:
            index.create(session.connection())
            clock.lap(f"build {index.name}")
    return SimulationResult(users=len(users), events=events.count, arms=arms, memories=memories, recalls=recalls,
                            seconds={k: round(v, 2) for k, v in clock.seconds.items()})
