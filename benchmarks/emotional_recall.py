"""Emotionally congruent recall: does the `emotional` policy find the memory that matches the
feeling of the query when several memories match its topic?

Built from GoEmotions **dev** texts (Ekman taxonomy, single-label, not neutral):
- each query is a dev text with Ekman label E;
- its target is the most similar other dev text (MiniLM cosine) that also has label E;
- its distractors are the four most similar dev texts with a different label, so they match the
  query's topic at least as well as the target, on average, but not its emotion;
- each query gets a fresh user whose memory stream holds those five memories, in random order,
  each between neutral filler memories (other dev texts labelled neutral), as in a real stream,
  written through the real store (embedding and emotion tags from the service encoder); the
  query is ranked with the real SQL over the whole stream.

Reports hit@1 and MRR of the target per policy, and the share of queries where the target is
less similar than the best distractor (where meaning alone cannot win).

    .venv/bin/python benchmarks/emotional_recall.py [--queries 300] [--data ../shared/data/goemotions]
"""

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

from memory_service.config import REPO_ROOT, Settings
from memory_service.db.database import Database
from memory_service.db.migrate import upgrade
from memory_service.memory.policies import load_policies
from memory_service.memory.ranking import RankQuery, rank
from memory_service.memory.store import remember
from memory_service.runtime import build_encoder
from memory_service.users import create_user, delete_user

DISTRACTORS = 4
FILLERS_BETWEEN = 2


def load_dev(data: Path) -> list[tuple[str, str]]:
    """Single-label dev texts of four words or more, neutral ones included (they are the fillers)."""
    labels = (data / "ekman" / "labels.txt").read_text().split()
    rows = []
    for line in (data / "ekman" / "dev.tsv").read_text().splitlines():
        text, ids, _ = line.split("\t")
        if "," not in ids and len(text.split()) >= 4:
            rows.append((text, labels[int(ids)]))
    return rows


def build_items(rows, embeddings: np.ndarray, n: int, seed: int) -> list[dict]:
    labels = np.array([label for _, label in rows])
    sims = embeddings @ embeddings.T
    np.fill_diagonal(sims, -1.0)
    rng = random.Random(seed)
    fillers = [i for i, label in enumerate(labels) if label == "neutral"]
    order = [i for i in range(len(rows)) if labels[i] != "neutral"]
    rng.shuffle(order)
    items = []
    for q in order[:n]:
        same = np.where(labels == labels[q], sims[q], -1.0)
        other = np.where(labels != labels[q], sims[q], -1.0)
        target = int(same.argmax())
        other[fillers] = -1.0
        distractors = [int(i) for i in np.argsort(-other)[:DISTRACTORS]]
        candidates = [target, *distractors]
        rng.shuffle(candidates)
        stream = rng.sample(fillers, FILLERS_BETWEEN)
        for c in candidates:
            stream += [c, *rng.sample(fillers, FILLERS_BETWEEN)]
        items.append({"query": q, "target": target, "stream": stream,
                      "target_outscored": bool(sims[q, target] < sims[q, distractors[0]])})
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data", type=Path, default=REPO_ROOT.parent / "shared" / "data" / "goemotions")
    parser.add_argument("--policies", default="semantic,hybrid,emotional")
    args = parser.parse_args()

    settings = Settings()
    policies = load_policies(settings.memory_policies_path)
    encoder = build_encoder(settings)
    rows = load_dev(args.data)
    encoded = encoder.encode([text for text, _ in rows])
    embeddings = np.array([e.embedding for e in encoded])
    items = build_items(rows, embeddings, args.queries, args.seed)

    db = Database.from_settings(settings)
    upgrade(db.engine)
    ranks: dict[str, list[int]] = {name: [] for name in args.policies.split(",")}
    try:
        for item in items:
            with db.transaction() as session:
                user_id = create_user(session, name="emotional-recall-bench").id
                ids = {}
                for i in item["stream"]:
                    memory, _ = remember(session, user_id=user_id, text=rows[i][0],
                                         embedding=encoded[i].embedding, tags=encoded[i].tags)
                    ids[memory.id] = i
                q = item["query"]
                query = RankQuery(rows[q][0], encoded[q].embedding, encoded[q].tags)
                for name in ranks:
                    hits = [ids[h.id] for h in rank(session, user_id, query, policies.get(name), k=len(ids))]
                    ranks[name].append(1 + hits.index(item["target"]))
                delete_user(session, user_id)
    finally:
        db.close()

    report = {
        "benchmark": "emotional_recall",
        "queries": len(items),
        "memories_per_query": DISTRACTORS + 1 + (DISTRACTORS + 2) * FILLERS_BETWEEN,
        "target_less_similar_than_best_distractor": round(float(np.mean([i["target_outscored"] for i in items])), 3),
        "policies": {
            name: {"hit@1": round(float(np.mean([r == 1 for r in rs])), 4),
                   "mrr": round(float(np.mean([1 / r for r in rs])), 4)}
            for name, rs in ranks.items()
        },
    }
    json.dump(report, sys.stdout)
    print()


if __name__ == "__main__":
    main()
