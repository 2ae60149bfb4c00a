"""Simulated users with a known effect of emotionally congruent recall on returning, so that the
retention analytics can be checked against the truth.

Each user is assigned an arm by the real experiment assignment (sticky row + exposure event), then
lives day by day: on an active day they send messages, each with an Ekman emotion (GoEmotions
text when the data is there). The arm's memory policy decides which earlier memory a message
recalls; a recall is congruent when its emotion matches the message's. The chance of coming back
on a given day is base · decay^age + effect · (share of congruent recalls so far), so the arms
differ only through what they recall. No LLM runs: generation is off in simulation."""

import csv
import io
import json
import logging
import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text
from sqlalchemy.orm import Session

from memory_service.experiments.assignment import assign
from memory_service.experiments.config import Experiment
from memory_service.memory.policies import PolicyConfig

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
    # How often each recall mechanism finds an emotionally matching memory when one exists.
    semantic_match: float = Field(default=0.4, ge=0, le=1)
    emotional_match: float = Field(default=0.9, ge=0, le=1)


@dataclass
class SimulatedUser:
    id: uuid.UUID
    arm: str
    policy: str
    signup: datetime
    dominant: str
    memories: list[str] = field(default_factory=list)  # Ekman label of each memory, oldest first
    recalls: int = 0
    congruent: int = 0


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


def recalled_emotion(user: SimulatedUser, emotion: str, spec: SimulationSpec, rng: random.Random) -> str | None:
    """The emotion of the memory this user's policy recalls for a message, or None (no recall)."""
    if not user.memories or user.policy == "none":
        return None
    if user.policy == "recent":
        return user.memories[-1]
    match = spec.emotional_match if user.policy == "emotional" else spec.semantic_match
    if emotion in user.memories and rng.random() < match:
        return emotion
    return rng.choice(user.memories)


AssignFn = Callable[[Session, uuid.UUID], tuple[str, str] | None]


def experiment_assigner(experiment: Experiment, policies: PolicyConfig) -> AssignFn:
    """The real, sticky assignment of memory_service.experiments: (arm, memory policy) or None."""

    def _assign(session: Session, user_id: uuid.UUID) -> tuple[str, str] | None:
        choice = assign(session, experiment, policies, user_id)
        return (choice.arm, choice.policy_name) if choice is not None else None

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


def _live(user: SimulatedUser, spec: SimulationSpec, texts: dict[str, list[str]], events: EventBuffer,
          rng: random.Random, remember: Callable | None) -> None:
    """Signup day plus every later day the user comes back, until the simulation ends."""
    end = spec.start + timedelta(days=spec.days)
    day = user.signup.replace(hour=0, minute=0, second=0, microsecond=0)
    age = 0
    while day < end:
        active = age == 0 or rng.random() < min(
            0.98,
            spec.base_return * spec.decay ** (age - 1)
            + spec.effect * (user.congruent / user.recalls if user.recalls else 0.0),
        )
        if active:
            at = user.signup if age == 0 else day + timedelta(seconds=rng.uniform(6 * 3600, 23 * 3600))
            if at >= end:
                break
            events.add(user.id, "session_start", at)
            for _ in range(1 + _poisson(rng, spec.messages_per_day - 1)):
                emotion = user.dominant if rng.random() < 0.5 else rng.choice(EMOTIONS)
                message = rng.choice(texts[emotion])
                events.add(user.id, "message_sent", at, chars=len(message), emotion=emotion)
                recalled = recalled_emotion(user, emotion, spec, rng)
                if recalled is not None:
                    user.recalls += 1
                    user.congruent += recalled == emotion
                    events.add(user.id, "memory_recalled", at, count=1, congruent=recalled == emotion)
                user.memories.append(emotion)
                if remember is not None:
                    remember(user.id, message, emotion, at)
                at += timedelta(seconds=rng.uniform(20, 240))
        day += timedelta(days=1)
        age += 1


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


def simulate(
    session: Session,
    spec: SimulationSpec,
    assign_arm: AssignFn,
    texts: dict[str, list[str]],
    remember: Callable | None = None,
) -> SimulationResult:
    """Writes users, assignments, exposures and the event log in the caller's transaction.

    `remember(user_id, text, emotion, at)`, when given, stores each message as a memory."""
    rng = random.Random(spec.seed)
    users: list[SimulatedUser] = []
    ids = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(spec.users)]
    signups = [spec.start + timedelta(seconds=rng.uniform(0, spec.days * 86400)) for _ in ids]
    session.execute(
        text("INSERT INTO users (id, name, created_at) VALUES (:id, :name, :at)"),
        [{"id": i, "name": f"sim-{n}", "at": at} for n, (i, at) in enumerate(zip(ids, signups))],
    )
    arms: dict[str, int] = {}
    for user_id, signup in zip(ids, signups):
        assigned = assign_arm(session, user_id)
        arm, policy = assigned if assigned is not None else ("(not exposed)", "semantic")
        arms[arm] = arms.get(arm, 0) + 1
        users.append(SimulatedUser(user_id, arm, policy, signup, rng.choice(EMOTIONS)))
    # The assignment stamps exposure with the wall clock; move it to the simulated signup.
    session.execute(
        text(
            "WITH s AS (SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:ats AS timestamptz[])) AS s(id, at))"
            " UPDATE events e SET occurred_at = s.at FROM s WHERE e.user_id = s.id AND e.name = 'experiment_exposure'"
        ),
        {"ids": ids, "ats": signups},
    )
    session.execute(
        text(
            "WITH s AS (SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:ats AS timestamptz[])) AS s(id, at))"
            " UPDATE experiment_assignments a SET assigned_at = s.at FROM s WHERE a.user_id = s.id"
        ),
        {"ids": ids, "ats": signups},
    )
    events = EventBuffer()
    for user in users:
        events.add(user.id, "user_created", user.signup)
        _live(user, spec, texts, events, rng, remember)
    events.flush(session)
    return SimulationResult(users=len(users), events=events.count, arms=arms)
