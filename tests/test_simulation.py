"""The simulation drives users through the real assignment, memory store and event log, and the
analytics recover the effect it builds in: congruent recall raises Day-7 retention."""

import uuid

from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.orm import Session

from analytics.arms import by_arm, resolve_experiment
from analytics.retention import RetentionSpec, by_cohort
from memory_service.cli import main
from memory_service.config import REPO_ROOT, Settings
from memory_service.experiments.config import parse_experiments
from memory_service.memory.policies import load_policies
from memory_service.simulation import SimulationSpec, experiment_assigner, load_texts, simulate
from tests.analytics_support import migrated_database

EXPERIMENT = {"experiments": [{
    "key": "sim", "seed": "sim", "phase": "1",
    "arms": [{"key": "none", "weight": 0.5, "memory_policy": "none"},
             {"key": "emotional", "weight": 0.5, "memory_policy": "emotional"}],
}]}


def test_simulation_recovers_the_effect_direction(runtime) -> None:
    policies = load_policies(Settings().memory_policies_path)
    experiment = parse_experiments(EXPERIMENT, policies).get("sim")
    with migrated_database(runtime.db.url) as (_, engine):
        with Session(engine) as session, session.begin():
            result = simulate(session, SimulationSpec(users=600, days=21, seed=7, effect=0.8),
                              experiment_assigner(experiment, policies), load_texts(REPO_ROOT.parent / "shared" / "data"),
                              encoder=runtime.embedder, policies=policies)
        assert result.users == 600 and set(result.arms) == {"none", "emotional"}
        with engine.connect() as conn:
            assigned = conn.execute(text("SELECT count(*) FROM experiment_assignments")).scalar()
            exposures_after_first = conn.execute(text(
                "SELECT count(*) FROM events x JOIN user_activity f ON f.user_id = x.user_id"
                " AND f.name = 'message_sent' WHERE x.name = 'experiment_exposure' AND x.occurred_at > f.first_at"
            )).scalar()
            ref = resolve_experiment(conn, "sim", None, control="none")
            arms = {r["arm"]: r for r in by_arm(conn, RetentionSpec(day=7), ref)["rows"]}
            cohorts = by_cohort(conn, RetentionSpec(day=7))
        assert assigned == 600 and exposures_after_first == 0  # exposure at signup, not at wall-clock time
        assert arms["emotional"]["rate"] > arms["none"]["rate"]
        assert arms["emotional"]["lift"] > 0 and arms["emotional"]["p_value"] < 0.01
        assert any(not r["complete"] for r in cohorts["rows"])  # the last week's cohorts are still open


def test_simulate_command_rejects_bad_input(runtime) -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["simulate", "--users", "0", "--days", "5"])
    assert out.exit_code != 0 and "--users" in out.output
    out = runner.invoke(main, ["simulate", "--users", "5", "--days", "5", "--experiment", "nope"])
    assert out.exit_code != 0 and "unknown experiment 'nope'" in out.output


SMALL = SimulationSpec(users=120, days=8, seed=11, effect=0.4, texts_per_emotion=12)


def _run_small(runtime, session: Session):
    policies = load_policies(Settings().memory_policies_path)
    experiment = parse_experiments(EXPERIMENT, policies).get("sim")
    return simulate(session, SMALL, experiment_assigner(experiment, policies),
                    load_texts(REPO_ROOT.parent / "shared" / "data"), encoder=runtime.embedder, policies=policies)


def test_messages_are_real_memories_and_recalls_are_what_the_store_ranked(runtime) -> None:
    with migrated_database(runtime.db.url) as (_, engine):
        with Session(engine) as session, session.begin():
            result = _run_small(runtime, session)
        with engine.connect() as conn:
            memories = conn.execute(text(
                "SELECT m.user_id, m.id, m.seq, m.created_at, m.ekman_label, m.mentions, m.recall_count,"
                " m.embedding IS NOT NULL AS embedded, m.valence IS NOT NULL AS tagged, m.doc_len > 0 AS indexed"
                " FROM memories m"
            )).mappings().all()
            sent = conn.execute(text(
                "SELECT user_id, count(*) FROM events WHERE name = 'message_sent' GROUP BY user_id")).all()
            recalls = conn.execute(text(
                "SELECT e.user_id, e.occurred_at, e.properties, a.memory_policy FROM events e"
                " JOIN experiment_assignments a USING (user_id) WHERE e.name = 'memory_recalled'"
            )).mappings().all()
            policies = dict(conn.execute(text("SELECT user_id, memory_policy FROM experiment_assignments")).all())
            seqs = dict(conn.execute(text("SELECT id, memory_seq FROM users")).all())
            deferred = conn.execute(text(
                "SELECT count(*) FROM pg_indexes WHERE indexname IN ('ix_memories_embedding_hnsw', 'ix_memories_tsv')"
            )).scalar()
        assert deferred == 2  # dropped for the bulk load, built again before commit
        assert result.memories == len(memories) > 0
        assert all(m["embedded"] and m["tagged"] and m["indexed"] and m["ekman_label"] for m in memories)
        # Every message is a memory of its user, or strengthened the near-duplicate it repeats.
        mentions: dict[uuid.UUID, int] = {}
        for m in memories:
            mentions[m["user_id"]] = mentions.get(m["user_id"], 0) + m["mentions"]
        assert mentions == dict(sent)
        by_user: dict[uuid.UUID, list] = {}
        for m in memories:
            by_user.setdefault(m["user_id"], []).append(m)
        for user_id, rows in by_user.items():
            assert sorted(r["seq"] for r in rows) == list(range(1, len(rows) + 1)) and seqs[user_id] == len(rows)

        # Recalls name real memories of that user, stored before the session that recalled them.
        assert recalls and result.recalls == len(recalls)
        assert {r["memory_policy"] for r in recalls} == {"emotional"}  # the `none` arm never recalls
        assert "none" in policies.values()
        memory = {(m["user_id"], m["id"]): m for m in memories}
        for r in recalls:
            ids = [uuid.UUID(i) for i in r["properties"]["memory_ids"]]
            assert ids and len(ids) == r["properties"]["count"] <= 5
            found = [memory[(r["user_id"], i)] for i in ids]
            assert all(f["created_at"] < r["occurred_at"] for f in found)
            assert r["properties"]["congruent"] == (found[0]["ekman_label"] == r["properties"]["emotion"])
        recalled = sum(r["properties"]["count"] for r in recalls)
        assert sum(m["recall_count"] for m in memories) == recalled  # strengthened as the service does


def test_the_same_seed_gives_the_same_world(runtime) -> None:
    def world(session: Session) -> tuple:
        events = session.execute(text(
            "SELECT user_id, name, occurred_at, properties::text FROM events ORDER BY 1, 2, 3, 4")).all()
        memories = session.execute(text(
            "SELECT user_id, id, seq, text, created_at, mentions, recall_count FROM memories ORDER BY 1, 3")).all()
        return events, memories

    with migrated_database(runtime.db.url) as (_, engine):
        runs = []
        for _ in range(2):
            with Session(engine) as session, session.begin():
                _run_small(runtime, session)
                runs.append(world(session))
                session.rollback()
        assert runs[0] == runs[1] and len(runs[0][0]) > 500 and len(runs[0][1]) > 100
