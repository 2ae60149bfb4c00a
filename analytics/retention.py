"""Day-N retention computed in Postgres: one row per user (cohort, eligible, retained), then grouped.

Rolling windows read the trigger-maintained rollup (user_activity, user_activity_days; migration
0003), which stays exact as events arrive. Calendar windows depend on the timezone, so they probe
the events table. `source="events"` computes everything from raw events, the straightforward plan
kept as a reference (tests check both agree; benchmarks time both)."""

from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Connection, text

Mode = Literal["exact", "on-or-after"]
Window = Literal["rolling", "calendar"]
Source = Literal["rollup", "events"]


class RetentionSpec(BaseModel):
    """What "retained on day N" means; the defaults are the issue's: exact, rolling, UTC, message_sent."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    day: int = Field(ge=0, le=3650)
    mode: Mode = "exact"
    window: Window = "rolling"
    tz: str = "UTC"
    as_of: datetime | None = None  # end of the data; default: the latest event
    event: str = Field(default="message_sent", min_length=1)

    @field_validator("tz")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r} (use an IANA name such as Europe/Lisbon)") from None
        return value

    @field_validator("as_of")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("--as-of needs an offset, e.g. 2027-01-31T00:00:00Z")
        return value


DAY = "interval '24 hours'"


def _firsts(source: Source) -> str:
    """(user_id, first_at) of the activity event, for users active by as_of."""
    if source == "rollup":
        return "SELECT user_id, first_at, last_at FROM user_activity WHERE name = :event"
    return (
        "SELECT user_id, min(occurred_at) AS first_at, max(occurred_at) AS last_at FROM events"
        " WHERE name = :event GROUP BY user_id"
    )


def _as_of(source: Source) -> str:
    if source == "rollup":
        return "(SELECT max(last_at) FROM user_activity)"
    return "(SELECT max(occurred_at) FROM events)"


def _any_event(lo: str, hi: str, *, hi_inclusive: bool = False) -> str:
    op = "<=" if hi_inclusive else "<"
    return (
        "EXISTS (SELECT 1 FROM events e WHERE e.user_id = f.user_id AND e.name = :event"
        f" AND e.occurred_at >= {lo} AND e.occurred_at {op} {hi})"
    )


def _window_bounds(spec: RetentionSpec) -> tuple[str, str]:
    """SQL for the start and end of the user's day-N window."""
    if spec.window == "rolling":
        return f"f.first_at + :day * {DAY}", f"f.first_at + (:day + 1) * {DAY}"
    local_day = "((f.first_at AT TIME ZONE :tz)::date + :day)"
    return f"({local_day}::timestamp AT TIME ZONE :tz)", f"(({local_day} + 1)::timestamp AT TIME ZONE :tz)"


def _retained(spec: RetentionSpec, source: Source, start: str, end: str) -> str:
    if spec.mode == "on-or-after":
        # A user whose last activity is by as_of (every user, when as_of is the end of the data)
        # was active on day N or later exactly when that last activity is in or after day N.
        return f"(CASE WHEN f.last_at <= p.as_of THEN f.last_at >= {start} ELSE {_active_since(spec, source, start)} END)"
    if source == "rollup" and spec.window == "rolling":
        return f"EXISTS ({ROLLUP_DAYS} = :day)"
    return _any_event(start, end)


ROLLUP_DAYS = "SELECT 1 FROM user_activity_days d WHERE d.name = :event AND d.user_id = f.user_id AND d.day"


def _active_since(spec: RetentionSpec, source: Source, start: str) -> str:
    """Any activity from the day-N window's start up to as_of, for users active after as_of too."""
    if source == "rollup" and spec.window == "rolling":
        # Whole days before the one holding as_of come from the rollup; that last, partial
        # day needs the events themselves, since activity after as_of must not count.
        partial = "floor((extract(epoch FROM p.as_of) - extract(epoch FROM f.first_at)) / 86400)::int"
        return (
            f"(EXISTS ({ROLLUP_DAYS} >= :day AND d.day < {partial})"
            f" OR {_any_event(f'f.first_at + {partial} * {DAY}', 'p.as_of', hi_inclusive=True)})"
        )
    return _any_event(start, "p.as_of", hi_inclusive=True)


def per_user_sql(spec: RetentionSpec, source: Source = "rollup") -> str:
    """A query of (user_id, cohort, eligible, retained) for every user whose first activity is by as_of.

    eligible: the day-N window ended by as_of; retained is only meaningful when eligible."""
    start, end = _window_bounds(spec)
    # MATERIALIZED: the end of the data is computed once, not once for every place that reads it.
    return f"""
        WITH p AS MATERIALIZED (SELECT coalesce(CAST(:as_of AS timestamptz), {_as_of(source)}) AS as_of)
        SELECT f.user_id,
               (f.first_at AT TIME ZONE :tz)::date AS cohort,
               f.first_at,
               {end} <= p.as_of AS eligible,
               ({end} <= p.as_of AND {_retained(spec, source, start, end)}) AS retained
          FROM ({_firsts(source)}) f CROSS JOIN p
         WHERE f.first_at <= p.as_of
    """


def params(spec: RetentionSpec) -> dict:
    return {"event": spec.event, "day": spec.day, "tz": spec.tz, "as_of": spec.as_of}


def resolved_as_of(conn: Connection, spec: RetentionSpec) -> datetime | None:
    if spec.as_of is not None:
        return spec.as_of
    return conn.execute(text("SELECT max(last_at) FROM user_activity")).scalar()


def _rate(retained: int, eligible: int) -> float | None:
    return retained / eligible if eligible else None


def by_cohort(conn: Connection, spec: RetentionSpec, source: Source = "rollup") -> dict:
    """The issue's JSON shape. A cohort is complete when every user in it is eligible; the
    overall figure sums complete cohorts only, so recent partial cohorts do not drag it down."""
    rows = conn.execute(
        text(f"""
            SELECT cohort, count(*) AS users,
                   count(*) FILTER (WHERE eligible) AS eligible,
                   count(*) FILTER (WHERE retained) AS retained
              FROM ({per_user_sql(spec, source)}) u
             GROUP BY cohort ORDER BY cohort
        """),
        params(spec),
    ).all()
    out_rows = [
        {
            "cohort": r.cohort.isoformat(),
            "users": r.users,
            "eligible": r.eligible,
            "retained": r.retained,
            "rate": _rate(r.retained, r.eligible),
            "complete": r.eligible == r.users,
        }
        for r in rows
    ]
    eligible = sum(r["eligible"] for r in out_rows if r["complete"])
    retained = sum(r["retained"] for r in out_rows if r["complete"])
    return {
        "day": spec.day,
        "mode": spec.mode,
        "window": spec.window,
        "rows": out_rows,
        "overall": {"eligible": eligible, "retained": retained, "rate": _rate(retained, eligible)},
    }


def complete_users_sql(spec: RetentionSpec, source: Source = "rollup") -> str:
    """Per-user rows restricted to complete cohorts (the population every average uses)."""
    return f"""
        SELECT * FROM (
            SELECT u.*, bool_and(u.eligible) OVER (PARTITION BY u.cohort) AS complete
              FROM ({per_user_sql(spec, source)}) u) c
         WHERE c.complete
    """
