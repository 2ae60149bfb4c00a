"""Simulation speed: `memory-service simulate` at 10,000 users × 30 days (target: at most 120 s).

Runs the real simulation (experiment assignment, memory rows, batched ranking, event log) in one
transaction on a fresh database and prints one JSON object: wall time, the time per phase, what it
wrote, Day-7 retention per arm (the emotional arm should beat none), and, as the baseline measured
in the same run, the cost of ranking a sample of the same sessions one `rank` call each against
one `rank_many` call for them all.

Runs on DATABASE_URL (in a scratch database), else an embedded server in a temporary directory.
Usage: .venv/bin/python benchmarks/simulation.py [--users 10000] [--days 30] [--seed 1]
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from analytics.arms import by_arm, resolve_experiment  # noqa: E402
from analytics.retention import RetentionSpec  # noqa: E402
from memory_service.config import REPO_ROOT, Settings  # noqa: E402
from memory_service.db.database import Database  # noqa: E402
from memory_service.db.migrate import scratch_database  # noqa: E402
from memory_service.experiments.config import parse_experiments  # noqa: E402
from memory_service.memory.policies import load_policies  # noqa: E402
from memory_service.memory.ranking import RankQuery, rank, rank_many  # noqa: E402
from memory_service.runtime import build_encoder  # noqa: E402
from memory_service.simulation import SimulationSpec, experiment_assigner, load_texts, simulate  # noqa: E402

POLICY_NAMES = ("none", "recent", "semantic", "emotional")


def _rank_baseline(session: Session, policies, sample: int) -> dict:
    """Per-session `rank` calls against one `rank_many` for the same (user, query, now) sample."""
    rows = session.execute(
        text(
            "SELECT e.user_id, e.occurred_at, a.memory_policy FROM events e"
            " JOIN experiment_assignments a ON a.user_id = e.user_id"
            " WHERE e.name = 'memory_recalled' AND a.memory_policy = 'emotional' ORDER BY e.id LIMIT :n"
        ),
        {"n": sample},
    ).all()
    if not rows:
        return {}
    policy = policies.get("emotional")
    probe = session.execute(text("SELECT text, embedding::text FROM memories LIMIT 1")).one()
    embedding = json.loads(probe[1])
    pairs = [(r.user_id, RankQuery(probe[0], embedding), r.occurred_at) for r in rows]
    started = time.perf_counter()
    one_by_one = [rank(session, u, q, policy, now=now) for u, q, now in pairs]
    single_s = time.perf_counter() - started
    started = time.perf_counter()
    batched = rank_many(session, pairs, policy)
    many_s = time.perf_counter() - started
    return {
        "sessions": len(pairs),
        "rank_per_session_ms": round(single_s / len(pairs) * 1000, 3),
        "rank_many_per_session_ms": round(many_s / len(pairs) * 1000, 3),
        "rank_many_speedup": round(single_s / many_s, 2),
        "same_results": [[m.id for m in r] for r in one_by_one] == [[m.id for m in r] for r in batched],
    }


def run(url: str, settings: Settings, args: argparse.Namespace) -> dict:
    policies = load_policies(settings.memory_policies_path)
    arms = [{"key": p, "weight": 1 / len(POLICY_NAMES), "memory_policy": p} for p in POLICY_NAMES]
    experiment = parse_experiments({"experiments": [{"key": "sim-bench", "seed": "sim-bench", "arms": arms}]},
                                   policies).get("sim-bench")
    started = time.perf_counter()
    encoder = build_encoder(settings)
    load_s = time.perf_counter() - started
    texts = load_texts(REPO_ROOT.parent / "shared" / "data")
    engine = create_engine(url)
    try:
        spec = SimulationSpec(users=args.users, days=args.days, seed=args.seed)
        with Session(engine) as session, session.begin():
            started = time.perf_counter()
            result = simulate(session, spec, experiment_assigner(experiment, policies), texts,
                              encoder=encoder, policies=policies)
            wall_s = time.perf_counter() - started
        with engine.connect() as conn:
            counts = dict(conn.execute(text("SELECT name, count(*) FROM events GROUP BY name")).all())
            memories = conn.execute(text("SELECT count(*) FROM memories")).scalar()
            congruent = {r[0]: round(float(r[1]), 4) for r in conn.execute(text(
                "SELECT properties->>'policy', avg((properties->>'congruent')::boolean::int) FROM events"
                " WHERE name = 'memory_recalled' GROUP BY 1"
            ))}
            ref = resolve_experiment(conn, "sim-bench", None, control="none")
            day7 = {r["arm"]: None if r["rate"] is None else round(r["rate"], 4) for r in by_arm(conn, RetentionSpec(day=7), ref)["rows"]}
        with Session(engine) as session, session.begin():
            baseline = _rank_baseline(session, policies, args.baseline_sessions)
            session.rollback()
    finally:
        engine.dispose()
    return {
        "users": args.users,
        "days": args.days,
        "seed": args.seed,
        "wall_s": round(wall_s, 2),
        "target_s": 120,
        "within_target": wall_s <= 120,
        "phases_s": result.seconds,
        "encoder_load_s": round(load_s, 2),
        "encoder": encoder.name,
        "active_user_days": counts.get("session_start", 0),
        "messages": counts.get("message_sent", 0),
        "memories": memories,
        "recalls": counts.get("memory_recalled", 0),
        "events": result.events,
        "congruent_share_by_policy": congruent,
        "day7_retention_by_arm": day7,
        "rank_baseline": baseline,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--baseline-sessions", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(pg_data_dir=Path(tmp) / "pg")
        with Database.from_settings(settings) as db, scratch_database(db.url, "sim_bench") as (url, _):
            result = run(url, settings, args)
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
