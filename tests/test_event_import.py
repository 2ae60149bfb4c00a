"""CSV import of historical events: all or nothing, idempotent, errors by line number; sessionization."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.orm import Session

from memory_service.cli import main
from memory_service.events import log_event_at, start_session_if_idle
from tests.analytics_support import migrated_database

U1, U2 = uuid.UUID(int=11), uuid.UUID(int=12)
GOOD = f"""user_id,event,timestamp,properties
{U1},message_sent,2027-01-01T10:00:00+01:00,"{{""chars"": 5}}"
{U1},message_sent,2027-01-08T10:00:00Z,
{U2},memory_recalled,2027-01-02T10:00:00-05:00,{{}}
"""


@pytest.fixture
def db(runtime):
    with migrated_database(runtime.db.url) as pair:
        yield pair


def _events(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT user_id, name, occurred_at, properties FROM events ORDER BY occurred_at"))]


def test_import_is_idempotent(db, tmp_path) -> None:
    url, engine = db
    path = tmp_path / "events.csv"
    path.write_text(GOOD)
    runner = CliRunner()
    first = runner.invoke(main, ["events", "import", str(path)], env={"DATABASE_URL": url})
    assert first.exit_code == 0, first.output
    assert "3 rows, 3 added, 0 already present" in first.output
    assert _events(engine) == [
        (U1, "message_sent", datetime(2027, 1, 1, 9, tzinfo=UTC), {"chars": 5}),
        (U2, "memory_recalled", datetime(2027, 1, 2, 15, tzinfo=UTC), {}),
        (U1, "message_sent", datetime(2027, 1, 8, 10, tzinfo=UTC), {}),
    ]
    again = runner.invoke(main, ["events", "import", str(path)], env={"DATABASE_URL": url})
    assert "3 rows, 0 added, 3 already present" in again.output
    assert len(_events(engine)) == 3
    # The import feeds the activity rollup like any other insert.
    with engine.connect() as conn:
        days = conn.execute(text("SELECT day FROM user_activity_days WHERE user_id = :u ORDER BY day"), {"u": U1})
        assert [d for (d,) in days] == [0, 7]


def test_bad_rows_are_reported_by_line_and_nothing_is_written(db, tmp_path) -> None:
    url, engine = db
    path = tmp_path / "bad.csv"
    path.write_text(GOOD + f"{U2},message_sent,2027-01-03 10:00,\n"  # line 5: no offset
                    + f"not-a-uuid,message_sent,2027-01-03T10:00:00Z,\n"  # line 6
                    + f"{U2},message_sent,2027-01-03T10:00:00Z,[1]\n"  # line 7
                    + f"{U2},message_sent,2027-01-03T10:00:00Z,{{bad\n")  # line 8
    result = CliRunner().invoke(main, ["events", "import", str(path)], env={"DATABASE_URL": url})
    assert result.exit_code == 1
    assert "nothing imported, 4 bad row(s)" in result.output
    assert "line 5: timestamp '2027-01-03 10:00' has no UTC offset" in result.output
    assert "line 6: user_id 'not-a-uuid' is not a UUID" in result.output
    assert "line 7: properties must be a JSON object" in result.output
    assert "line 8: properties is not valid JSON" in result.output
    assert _events(engine) == []

    path.write_text("user,event,ts\n")
    header = CliRunner().invoke(main, ["events", "import", str(path)], env={"DATABASE_URL": url})
    assert "line 1: header must be user_id,event,timestamp[,properties]" in header.output
    missing = CliRunner().invoke(main, ["events", "import", str(tmp_path / "nope.csv")], env={"DATABASE_URL": url})
    assert missing.exit_code == 1 and "cannot open" in missing.output


def test_session_starts_after_thirty_minutes_of_silence(db) -> None:
    _, engine = db
    user, t0 = uuid.uuid4(), datetime(2027, 1, 1, 9, tzinfo=UTC)
    started = []
    with Session(engine) as session, session.begin():
        for minutes in (0, 29, 58, 88, 89):  # gaps 29, 29, 30, 1 minutes
            at = t0 + timedelta(minutes=minutes)
            started.append(start_session_if_idle(session, user, at))
            log_event_at(session, "message_sent", user, at)
            session.flush()
    assert started == [True, False, False, True, False]
    names = [n for (_, n, _, _) in _events(engine)]
    assert names.count("session_start") == 2
