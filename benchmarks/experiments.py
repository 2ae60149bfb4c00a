"""Experiment-assignment cost, as one JSON object (ratios against a baseline measured in this run).

- hashing: GrowthBook v1/v2 bucketing throughput over UUID-shaped ids (ids per second);
- per-turn database cost of `choose_policy` (read) + `record_exposure` (write), first exposure and
  sticky (already assigned), each as a ratio of one `SELECT 1` round trip timed interleaved with it.

Runs on DATABASE_URL, else an embedded server in a temporary directory.
Usage: .venv/bin/python benchmarks/experiments.py [--users 300]
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import text  # noqa: E402

from memory_service.config import REPO_ROOT, Settings  # noqa: E402
from memory_service.db.database import Database  # noqa: E402
from memory_service.db.migrate import upgrade  # noqa: E402
from memory_service.experiments.assignment import choose_policy, hash_arm, record_exposure  # noqa: E402
from memory_service.experiments.config import parse_experiments  # noqa: E402
from memory_service.memory.policies import load_policies  # noqa: E402
from memory_service.users import create_user  # noqa: E402

POLICIES = load_policies(REPO_ROOT / "config" / "memory_policies.yaml")


def _config(version: int):
    arms = [{"key": p, "weight": 0.25, "memory_policy": p} for p in ("none", "recent", "semantic", "emotional")]
    key = f"bench-{uuid.uuid4().hex[:8]}"
    return parse_experiments({"experiments": [{"key": key, "hash_version": version, "arms": arms}]}, POLICIES)


def _hash_rate(version: int, n: int = 50_000) -> float:
    experiment = _config(version).experiments[0]
    ids = [str(uuid.uuid4()) for _ in range(n)]
    started = time.perf_counter()
    for uid in ids:
        hash_arm(experiment, uid)
    return n / (time.perf_counter() - started)


def _ms(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def _db_costs(db: Database, n_users: int) -> dict:
    config = _config(2)
    with db.transaction() as session:
        users = [create_user(session).id for _ in range(n_users)]

    def baseline() -> None:
        with db.transaction() as session:
            session.execute(text("SELECT 1"))

    def turn(user: uuid.UUID):
        def run() -> None:
            with db.transaction() as session:
                choice = choose_policy(session, config, POLICIES, user)
            with db.transaction() as session:
                record_exposure(session, user, choice)
        return run

    base_first, first, base_sticky, sticky = [], [], [], []
    for user in users:  # interleaved so machine load hits both alike
        base_first.append(_ms(baseline))
        first.append(_ms(turn(user)))
    for user in users:
        base_sticky.append(_ms(baseline))
        sticky.append(_ms(turn(user)))
    med = statistics.median
    return {
        "users": n_users,
        "baseline_select1_two_transactions_ms": round(2 * med(base_first), 3),
        "first_exposure_ms": round(med(first), 3),
        "sticky_ms": round(med(sticky), 3),
        "first_exposure_vs_two_select1": round(med(first) / (2 * med(base_first)), 2),
        "sticky_vs_two_select1": round(med(sticky) / (2 * med(base_sticky)), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=300)
    args = parser.parse_args()
    result = {"hash_v1_ids_per_s": round(_hash_rate(1)), "hash_v2_ids_per_s": round(_hash_rate(2))}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(pg_data_dir=Path(tmp) / "pg")
        db = Database.from_settings(settings)
        try:
            upgrade(db.engine)
            result |= _db_costs(db, args.users)
        finally:
            db.close()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
