"""Dose-response: Day-N retention by how many memory recalls a user had in their first days.

This is an observational relation (engaged users both chat more and come back more); the
experiment arms, not this curve, carry the causal claim."""

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import Connection, text

from analytics.retention import RetentionSpec, Source, complete_users_sql, params
from analytics.stats import wilson

RECALL_EVENT = "memory_recalled"


class RecallSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    retention: RetentionSpec
    first_days: int = Field(default=3, ge=1, le=365)  # recalls counted in [first activity, + first_days * 24h)
    buckets: tuple[int, ...] = (0, 1, 2, 4, 8)  # lower bounds; the last bucket is open-ended

    @field_validator("buckets")
    @classmethod
    def _increasing(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or value[0] != 0 or any(b <= a for a, b in zip(value, value[1:])):
            raise ValueError(f"buckets must be increasing lower bounds starting at 0, got {list(value)}")
        return value

    @model_validator(mode="after")
    def _window_inside(self) -> "RecallSpec":
        if self.first_days > self.retention.day + 1:
            raise ValueError(
                f"the recall window ({self.first_days} days) must end by the end of day {self.retention.day}"
            )
        return self


def bucket_label(buckets: tuple[int, ...], i: int) -> str:
    lo = buckets[i]
    if i == len(buckets) - 1:
        return f"{lo}+"
    hi = buckets[i + 1] - 1
    return str(lo) if hi == lo else f"{lo}-{hi}"


def recall_effect(conn: Connection, spec: RecallSpec, source: Source = "rollup") -> dict:
    """Users of complete cohorts, bucketed by count of memory_recalled events in their first days."""
    counts = conn.execute(
        text(f"""
            SELECT r.recalls, count(*) AS eligible, count(*) FILTER (WHERE r.retained) AS retained
              FROM (SELECT u.retained,
                           (SELECT count(*) FROM events e
                             WHERE e.user_id = u.user_id AND e.name = :recall_event
                               AND e.occurred_at >= u.first_at
                               AND e.occurred_at < u.first_at + :first_days * interval '24 hours') AS recalls
                      FROM ({complete_users_sql(spec.retention, source)}) u) r
             GROUP BY r.recalls
        """),
        {**params(spec.retention), "recall_event": RECALL_EVENT, "first_days": spec.first_days},
    ).all()
    totals = [[0, 0] for _ in spec.buckets]
    for r in counts:
        i = max(i for i, lo in enumerate(spec.buckets) if r.recalls >= lo)
        totals[i][0] += r.eligible
        totals[i][1] += r.retained
    rows = []
    for i, (eligible, retained) in enumerate(totals):
        low, high = wilson(retained, eligible)
        rows.append({
            "recalls": bucket_label(spec.buckets, i),
            "eligible": eligible,
            "retained": retained,
            "rate": retained / eligible if eligible else None,
            "ci_low": low,
            "ci_high": high,
        })
    return {
        "day": spec.retention.day,
        "mode": spec.retention.mode,
        "window": spec.retention.window,
        "first_days": spec.first_days,
        "rows": rows,
    }
