"""The simulation drives users through the real assignment and event log, and the analytics
recover the effect it builds in: congruent recall raises Day-7 retention."""

import time

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
        started = time.perf_counter()
        with Session(engine) as session, session.begin():
            result = simulate(session, SimulationSpec(users=600, days=21, seed=7, effect=0.4),
                              experiment_assigner(experiment, policies), load_texts(REPO_ROOT.parent / "shared" / "data"))
        assert time.perf_counter() - started < 60
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
