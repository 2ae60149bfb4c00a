"""Retention by arm against hand-computed statistics, and the recall dose-response buckets."""

import json
import uuid
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from analytics.arms import ArmAnalysisError, by_arm, resolve_experiment
from analytics.recall import RecallSpec, recall_effect
from analytics.retention import RetentionSpec
from analytics.stats import relative_lift_test, wilson
from memory_service.cli import main
from tests.analytics_support import add_events, add_users, migrated_database

T0 = datetime.fromisoformat("2027-01-01T00:00:00+00:00")
ARMS = {"none": (100, 30), "emotional": (100, 45), "semantic": (80, 40)}  # arm: (users, retained on day 7)


@pytest.fixture(scope="module")
def db(runtime):
    with migrated_database(runtime.db.url) as (url, engine):
        events, assignments, n = [], [], 0
        for arm, (users, retained) in ARMS.items():
            for i in range(users):
                n += 1
                user = uuid.UUID(int=n)
                first = T0 + timedelta(minutes=n)
                events.append((user, "message_sent", first))
                if i < retained:
                    events.append((user, "message_sent", first + timedelta(days=7, hours=1)))
                assignments.append({"u": user, "arm": arm})
        events.append((uuid.UUID(int=10**6), "message_sent", T0 + timedelta(days=30)))  # the end of the data
        add_users(engine, [a["u"] for a in assignments])
        add_events(engine, events)
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO experiment_assignments (user_id, experiment_key, phase, seed, arm, memory_policy)"
                     " VALUES (:u, 'exp-x', '1', 'exp-x', :arm, :arm)"),
                assignments,
            )
        yield url, engine


def test_statistics_by_hand() -> None:
    # 30/100 retained: the textbook Wilson 95% interval.
    assert wilson(30, 100) == pytest.approx((0.218949, 0.395849), abs=1e-6)
    # Control 30/100, treatment 45/100: lift = 0.15 / 0.3 = 0.5;
    # Var = 0.45*0.55/(0.3^2*100) + 0.3*0.7*0.45^2/(0.3^4*100) = 0.0275 + 0.0525 = 0.08;
    # z = 0.5 / sqrt(0.08) = 1.7678, two-sided p = 2 * (1 - Phi(1.7678)) = 0.0771.
    test = relative_lift_test(30, 100, 45, 100)
    assert test.lift == pytest.approx(0.5)
    assert test.p_value == pytest.approx(0.0771, abs=1e-4)
    assert (test.ci_low, test.ci_high) == pytest.approx((0.5 - 1.96 * 0.08**0.5, 0.5 + 1.96 * 0.08**0.5), abs=1e-3)
    assert relative_lift_test(0, 100, 10, 100).lift is None  # no relative lift over a zero baseline


def test_by_arm(db) -> None:
    with db[1].connect() as conn:
        ref = resolve_experiment(conn, "exp-x", None, control="none")
        result = by_arm(conn, RetentionSpec(day=7), ref)
    rows = {r["arm"]: r for r in result["rows"]}
    assert {a: (r["eligible"], r["retained"]) for a, r in rows.items()} == {a: v for a, v in ARMS.items()}
    assert rows["none"]["lift"] is None and rows["none"]["p_value"] is None
    assert (rows["none"]["ci_low"], rows["none"]["ci_high"]) == pytest.approx((0.218949, 0.395849), abs=1e-6)
    assert rows["emotional"]["lift"] == pytest.approx(0.5)
    assert rows["emotional"]["p_value"] == pytest.approx(0.0771, abs=1e-4)
    # Semantic 40/80 = 0.5: lift 2/3; Var = 0.25/(0.09*80) + 0.21*0.25/(0.0081*100) = 0.09954, p = 0.0346.
    assert rows["semantic"]["lift"] == pytest.approx(2 / 3)
    assert rows["semantic"]["p_value"] == pytest.approx(0.0346, abs=1e-4)
    # SRM with equal weights (exp-x is not configured): chi2 = 2.857 on 2 df, p = exp(-2.857/2) = 0.2397.
    assert result["srm_p_value"] == pytest.approx(0.2397, abs=1e-4)
    assert result["overall"] == {"eligible": 280, "retained": 115, "rate": pytest.approx(115 / 280)}


def test_by_arm_cli_and_errors(db) -> None:
    url = db[0]
    runner = CliRunner()
    out = runner.invoke(main, ["analytics", "retention", "--day", "7", "--by", "arm", "--experiment", "exp-x",
                               "--control", "none", "--format", "json"], env={"DATABASE_URL": url})
    assert out.exit_code == 0, out.output
    body = json.loads(out.output)
    assert {"day", "mode", "window", "rows", "overall", "srm_p_value"} <= set(body)
    assert set(body["rows"][0]) == {"arm", "users", "eligible", "retained", "rate", "ci_low", "ci_high", "lift",
                                    "p_value"}
    missing = runner.invoke(main, ["analytics", "retention", "--day", "7", "--by", "arm", "--experiment", "exp-x"],
                            env={"DATABASE_URL": url})
    assert missing.exit_code != 0 and "--control" in missing.output
    with db[1].connect() as conn, pytest.raises(ArmAnalysisError, match="no assignments for experiment 'nope'"):
        resolve_experiment(conn, "nope", None)


def test_recall_effect_buckets(runtime) -> None:
    # (recalls in the first 3 days, retained on day 7) per user; buckets 0, 1, 2-3, 4-7, 8+.
    users = [(0, False), (0, True), (1, True), (2, False), (3, True), (5, True), (9, True)]
    with migrated_database(runtime.db.url) as (url, engine):
        events = []
        for n, (recalls, retained) in enumerate(users):
            user, first = uuid.UUID(int=n + 1), T0 + timedelta(hours=n)
            events.append((user, "message_sent", first))
            events += [(user, "memory_recalled", first + timedelta(hours=7 * k)) for k in range(recalls)]
            events.append((user, "memory_recalled", first + timedelta(days=4)))  # outside the first 3 days
            if retained:
                events.append((user, "message_sent", first + timedelta(days=7, minutes=5)))
        events.append((uuid.UUID(int=999), "message_sent", T0 + timedelta(days=30)))
        add_events(engine, events)
        with engine.connect() as conn:
            result = recall_effect(conn, RecallSpec(retention=RetentionSpec(day=7)))
        assert [(r["recalls"], r["eligible"], r["retained"]) for r in result["rows"]] == [
            ("0", 2, 1), ("1", 1, 1), ("2-3", 2, 1), ("4-7", 1, 1), ("8+", 1, 1)
        ]  # the end-of-data user's cohort (day 30) is incomplete, so it is in no bucket
        out = CliRunner().invoke(main, ["analytics", "recall-effect", "--day", "7", "--format", "json"],
                                 env={"DATABASE_URL": url})
        assert out.exit_code == 0, out.output
        assert json.loads(out.output)["rows"][1]["ci_low"] == pytest.approx(wilson(1, 1)[0])
        bad = CliRunner().invoke(main, ["analytics", "recall-effect", "--day", "1"], env={"DATABASE_URL": url})
        assert bad.exit_code != 0 and "must end by the end of day 1" in bad.output
