"""Day-N retention on hand-made events whose answers are worked out in the comments."""

import json
import uuid
from datetime import datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from analytics.retention import RetentionSpec, by_cohort
from memory_service.cli import main
from tests.analytics_support import add_events, migrated_database

A, B, C, D, E = (uuid.UUID(int=i) for i in range(1, 6))


def ts(s: str) -> datetime:
    return datetime.fromisoformat(s)


# A: first 01-01 23:00Z, again 01-08 22:00Z: rolling day 6 (6d23h), UTC calendar day 7, Paris calendar
#    (cohort 01-02 00:00, event 01-08 23:00) day 6.
# B: first 01-01 10:00Z, again 01-08 11:00Z: day 7 in every variant.
# C: first 01-01 12:00Z, again 01-10 12:00Z: day 9 everywhere (on-or-after only).
# D: first 01-01 23:30Z (01-02 00:30 Paris), again 01-08 23:10Z (01-09 00:10 Paris): rolling day 6,
#    UTC calendar day 7, Paris calendar day 7 (cohort 01-02).
# E: first 01-20 00:00Z, last event 01-21 00:00Z (the end of the data): day 7 not yet elapsed.
EVENTS = [
    (A, "2027-01-01T23:00:00+00:00"), (A, "2027-01-08T22:00:00+00:00"),
    (B, "2027-01-01T10:00:00+00:00"), (B, "2027-01-08T11:00:00+00:00"),
    (C, "2027-01-01T12:00:00+00:00"), (C, "2027-01-10T12:00:00+00:00"),
    (D, "2027-01-02T00:30:00+01:00"), (D, "2027-01-09T00:10:00+01:00"),
    (E, "2027-01-20T00:00:00+00:00"), (E, "2027-01-21T00:00:00+00:00"),
]


@pytest.fixture(scope="module")
def db(runtime):
    with migrated_database(runtime.db.url) as (url, engine):
        add_events(engine, [(u, "message_sent", ts(t)) for u, t in EVENTS])
        # Other events must not count as activity by default.
        add_events(engine, [(C, "memory_recalled", ts("2027-01-08T12:00:00+00:00"))])
        yield url, engine


def run(engine, source="rollup", **kwargs) -> dict:
    with engine.connect() as conn:
        return by_cohort(conn, RetentionSpec(**kwargs), source)


def summary(result: dict) -> list[tuple]:
    return [(r["cohort"], r["users"], r["eligible"], r["retained"], r["complete"]) for r in result["rows"]]


CASES = [
    # (spec, rows, overall (eligible, retained))
    (dict(day=7), [("2027-01-01", 4, 4, 1, True), ("2027-01-20", 1, 0, 0, False)], (4, 1)),
    (dict(day=7, window="calendar"), [("2027-01-01", 4, 4, 3, True), ("2027-01-20", 1, 0, 0, False)], (4, 3)),
    (
        dict(day=7, window="calendar", tz="Europe/Paris"),
        [("2027-01-01", 2, 2, 1, True), ("2027-01-02", 2, 2, 1, True), ("2027-01-20", 1, 0, 0, False)],
        (4, 2),
    ),
    (dict(day=7, mode="on-or-after"), [("2027-01-01", 4, 4, 2, True), ("2027-01-20", 1, 0, 0, False)], (4, 2)),
    # As of 01-09 11:00 only B (first 01-01 10:00) has a finished 8th rolling day: cohort incomplete.
    (dict(day=7, as_of=ts("2027-01-09T11:00:00+00:00")), [("2027-01-01", 4, 1, 1, False)], (0, 0)),
    # As of 01-10 11:00 all four are eligible; C's return at 01-10 12:00 is after as_of and must not count.
    (dict(day=7, mode="on-or-after", as_of=ts("2027-01-10T11:00:00+00:00")), [("2027-01-01", 4, 4, 1, True)], (4, 1)),
    (dict(day=0), [("2027-01-01", 4, 4, 4, True), ("2027-01-20", 1, 1, 1, True)], (5, 5)),
    (dict(day=9, event="memory_recalled"), [("2027-01-08", 1, 1, 0, True)], (1, 0)),
]


@pytest.mark.parametrize("source", ["rollup", "events"])
@pytest.mark.parametrize(("spec", "rows", "overall"), CASES)
def test_known_answers(db, source, spec, rows, overall) -> None:
    result = run(db[1], source, **spec)
    assert summary(result) == rows
    assert (result["overall"]["eligible"], result["overall"]["retained"]) == overall
    if overall[0]:
        assert result["overall"]["rate"] == pytest.approx(overall[1] / overall[0])


def test_rollup_stays_exact_when_history_arrives_late_or_is_deleted(runtime) -> None:
    with migrated_database(runtime.db.url) as (_, engine):
        add_events(engine, [(u, "message_sent", ts(t)) for u, t in EVENTS])
        specs = [dict(day=d, mode=m) for d in (0, 1, 6, 7, 9) for m in ("exact", "on-or-after")]
        # An event earlier than B's first activity shifts every one of B's day indices by one.
        add_events(engine, [(B, "message_sent", ts("2027-01-01T09:00:00+00:00"))])
        with engine.connect() as conn:
            days = conn.execute(text("SELECT day FROM user_activity_days WHERE user_id = :u ORDER BY day"), {"u": B})
            assert [d for (d,) in days] == [0, 7]  # 09:00 and 10:00 on day 0; 01-08 11:00 is 7d2h later
        for spec in specs:
            assert run(engine, "rollup", **spec) == run(engine, "events", **spec), spec
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM events WHERE user_id = :u AND occurred_at < '2027-01-01T10:00Z'"), {"u": B})
            conn.execute(text("UPDATE events SET occurred_at = occurred_at + interval '1 day' WHERE user_id = :u"), {"u": C})
        for spec in specs:
            assert run(engine, "rollup", **spec) == run(engine, "events", **spec), spec
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE events"))
            assert conn.execute(text("SELECT count(*) FROM user_activity_days")).scalar() == 0


def test_cli_json_and_csv(db) -> None:
    url, _ = db
    runner = CliRunner()
    result = runner.invoke(main, ["analytics", "retention", "--day", "7", "--window", "calendar", "--tz",
                                  "Europe/Paris", "--format", "json"], env={"DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert set(body) == {"day", "mode", "window", "rows", "overall"}
    assert body["rows"][0] == {"cohort": "2027-01-01", "users": 2, "eligible": 2, "retained": 1, "rate": 0.5,
                               "complete": True}
    assert body["overall"] == {"eligible": 4, "retained": 2, "rate": 0.5}

    csv_out = runner.invoke(main, ["analytics", "retention", "--day", "7", "--format", "csv"], env={"DATABASE_URL": url})
    assert csv_out.output.splitlines()[:2] == [
        "cohort,users,eligible,retained,rate,complete", "2027-01-01,4,4,1,0.25,True"
    ]
    table = runner.invoke(main, ["analytics", "retention", "--day", "7"], env={"DATABASE_URL": url})
    assert "overall (complete cohorts): 1/4 = 0.2500" in table.output


@pytest.mark.parametrize(("args", "message"), [
    (["--tz", "Mars/Olympus"], "unknown timezone 'Mars/Olympus'"),
    (["--as-of", "2027-01-01T00:00:00"], "needs a UTC offset"),
    (["--by", "arm"], "--by arm needs --experiment KEY"),
])
def test_cli_rejects_bad_input(db, args, message) -> None:
    result = CliRunner().invoke(main, ["analytics", "retention", "--day", "7", *args], env={"DATABASE_URL": db[0]})
    assert result.exit_code != 0
    assert message in result.output
