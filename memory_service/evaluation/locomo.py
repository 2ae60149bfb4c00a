"""LoCoMo evidence recall: ingest a conversation as one user's memories, ask its questions.

Every turn becomes a memory (a shared photo's caption is part of its text) timed at its session's
date; every question of categories 1-4 is answered by retrieval with the last session's date as
"now". Recall@k is the share of a question's evidence turns found among the top k memories."""

import json
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from memory_service.db.database import Database
from memory_service.encoder.tags import EmotionTags
from memory_service.memory.policies import MemoryPolicy
from memory_service.memory.ranking import RankQuery, rank
from memory_service.memory.store import memory_document, remember
from memory_service.users import create_user, delete_user

CATEGORIES = ("1", "2", "3", "4")
# Encodes a batch of texts into (embedding, tags) pairs.
Encode = Callable[[list[str]], list[tuple[list[float], EmotionTags | None]]]


@dataclass(frozen=True)
class Turn:
    dia_id: str
    speaker: str
    text: str
    at: datetime


@dataclass(frozen=True)
class Question:
    text: str
    evidence: tuple[str, ...]
    category: str


def _session_time(value: str) -> datetime:
    # LoCoMo writes e.g. "1:56 pm on 8 May, 2023".
    return datetime.strptime(value.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


def load(path: Path) -> tuple[list[Turn], list[Question]]:
    try:
        data = json.loads(Path(path).read_text())
        turns: list[Turn] = []
        n = 1
        while f"session_{n}_date_time" in data:
            at = _session_time(data[f"session_{n}_date_time"])
            for t in data.get(f"session_{n}") or []:
                caption = f" [shares a photo: {t['blip_caption']}]" if t.get("blip_caption") else ""
                turns.append(Turn(t["dia_id"], t["speaker"], t["text"] + caption, at))
            n += 1
        questions = [
            Question(q["question"], tuple(q.get("evidence") or ()), str(q["category"]))
            for q in data["qa"]
            if str(q["category"]) in CATEGORIES and q.get("evidence")
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a LoCoMo conversation file: {exc!r}") from exc
    if not turns:
        raise ValueError(f"{path}: no dialogue turns found")
    return turns, questions


def _ingest(db: Database, encode: Encode, turns: list[Turn], policy: MemoryPolicy) -> tuple[uuid.UUID, dict]:
    encoded = encode([memory_document(t.text, t.speaker) for t in turns])
    dia_of: dict[uuid.UUID, set[str]] = defaultdict(set)
    with db.transaction() as session:
        user_id = create_user(session, name="locomo-eval").id
        for turn, (embedding, tags) in zip(turns, encoded, strict=True):
            memory, _ = remember(
                session,
                user_id=user_id,
                text=turn.text,
                speaker=turn.speaker,
                embedding=embedding,
                tags=tags,
                created_at=turn.at,
                dedupe_threshold=policy.dedupe_threshold,
            )
            dia_of[memory.id].add(turn.dia_id)
    return user_id, dia_of


def evaluate(
    db: Database, encode: Encode, paths: Sequence[Path], policy: MemoryPolicy, ks: Sequence[int]
) -> dict:
    ks = sorted(set(ks))
    hits: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    timings: list[float] = []
    for path in paths:
        turns, questions = load(path)
        user_id, dia_of = _ingest(db, encode, turns, policy)
        try:
            now = max(t.at for t in turns)
            encoded = encode([q.text for q in questions])
            for question, (embedding, tags) in zip(questions, encoded, strict=True):
                with db.transaction() as session:
                    started = time.perf_counter()
                    ranked = rank(
                        session, user_id, RankQuery(question.text, embedding, tags), policy, k=max(ks), now=now
                    )
                    timings.append((time.perf_counter() - started) * 1000)
                for k in ks:
                    found = set().union(*(dia_of[m.id] for m in ranked[:k]))
                    share = sum(e in found for e in question.evidence) / len(question.evidence)
                    hits[question.category][k].append(share)
                    hits["all"][k].append(share)
        finally:
            with db.transaction() as session:
                delete_user(session, user_id)

    def summary(by_k: dict[int, list[float]]) -> dict:
        return {"questions": len(by_k[ks[0]]), **{f"recall@{k}": round(statistics.fmean(by_k[k]), 4) for k in ks}}

    result = summary(hits["all"])
    result["by_category"] = {c: summary(hits[c]) for c in CATEGORIES if c in hits}
    result["policy"] = policy.name
    result["p50_ms"] = round(statistics.median(timings), 2)
    result["p95_ms"] = round(statistics.quantiles(timings, n=20)[-1], 2) if len(timings) > 1 else result["p50_ms"]
    return result
