"""Day-7 cohort retention (exact, rolling, UTC) over synthetic events: ours (the trigger-maintained
rollup in Postgres) against the plain EXISTS-per-user query, DuckDB and pandas on the same events.

Prints one JSON object. Results must be equal across all four; timings are the best of --repeat
runs, with ratios to DuckDB. Default scale: 200,000 users x 50 events = 10M events.

    .venv/bin/python benchmarks/retention.py [--users 200000] [--events-per-user 50]
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import duckdb
import pandas as pd
from sqlalchemy import text

from analytics.retention import RetentionSpec, by_cohort
from memory_service.config import Settings
from memory_service.db.database import Database
from memory_service.db.migrate import scratch_database

DAY = 7

GENERATE = """
SELECT setseed(0.42);
CREATE TEMP TABLE bench_users AS
  SELECT gen_random_uuid() AS id,
         timestamptz '2027-01-01 00:00:00+00' + random() * interval '30 days' AS first_at
    FROM generate_series(1, :users);
-- Each user's first event, then returns spread exponentially (mean 6 days) after it.
INSERT INTO events (user_id, name, occurred_at)
SELECT u.id, 'message_sent',
       CASE WHEN g = 1 THEN u.first_at ELSE u.first_at + (-ln(1 - random()) * 6) * interval '24 hours' END
  FROM bench_users u CROSS JOIN generate_series(1, :per_user) g;
"""

DUCKDB_SQL = f"""
WITH f AS (SELECT user_id, min(occurred_at) AS first_at FROM ev GROUP BY user_id),
     p AS (SELECT max(occurred_at) AS as_of FROM ev),
     r AS (SELECT DISTINCT e.user_id FROM ev e JOIN f USING (user_id)
            WHERE e.occurred_at >= f.first_at + INTERVAL ({DAY * 24}) HOUR
              AND e.occurred_at < f.first_at + INTERVAL ({(DAY + 1) * 24}) HOUR)
SELECT CAST(f.first_at AS DATE) AS cohort, count(*) AS users,
       count(*) FILTER (WHERE f.first_at + INTERVAL ({(DAY + 1) * 24}) HOUR <= p.as_of) AS eligible,
       count(r.user_id) FILTER (WHERE f.first_at + INTERVAL ({(DAY + 1) * 24}) HOUR <= p.as_of) AS retained
  FROM f CROSS JOIN p LEFT JOIN r USING (user_id)
 GROUP BY 1 ORDER BY 1
"""


def pandas_table(df: pd.DataFrame) -> list[tuple]:
    first = df.groupby("user_id", sort=False)["occurred_at"].min().rename("first_at")
    as_of = df["occurred_at"].max()
    joined = df[["user_id", "occurred_at"]].join(first, on="user_id")
    day = (joined["occurred_at"] - joined["first_at"]) // pd.Timedelta(hours=24)
    retained_users = pd.Index(joined.loc[day == DAY, "user_id"].unique())
    users = first.to_frame()
    users["cohort"] = users["first_at"].dt.date
    users["eligible"] = users["first_at"] + pd.Timedelta(hours=24 * (DAY + 1)) <= as_of
    users["retained"] = users["eligible"] & users.index.isin(retained_users)
    g = users.groupby("cohort").agg(users=("eligible", "size"), eligible=("eligible", "sum"),
                                    retained=("retained", "sum"))
    return [(c.isoformat(), int(r.users), int(r.eligible), int(r.retained)) for c, r in g.iterrows()]


def best_of(repeat: int, fn):
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), result


def ours_table(result: dict) -> list[tuple]:
    return [(r["cohort"], r["users"], r["eligible"], r["retained"]) for r in result["rows"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--events-per-user", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(pg_data_dir=Path(tmp) / "pg")
        out: dict = {"users": args.users, "events": args.users * args.events_per_user, "day": DAY}
        with Database.from_settings(settings) as server_db, scratch_database(server_db.url, "bench") as (_, engine):
            started = time.perf_counter()
            with engine.begin() as conn:
                for statement in filter(str.strip, GENERATE.split(";")):
                    conn.execute(text(statement), {"users": args.users, "per_user": args.events_per_user})
            out["insert_with_rollup_s"] = round(time.perf_counter() - started, 2)
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE events"))
                conn.execute(text("VACUUM ANALYZE user_activity"))
                conn.execute(text("VACUUM ANALYZE user_activity_days"))
                out["rollup_rows"] = conn.execute(text("SELECT count(*) FROM user_activity_days")).scalar()

            spec = RetentionSpec(day=DAY)
            with engine.connect() as conn:
                t_ours, ours = best_of(args.repeat, lambda: ours_table(by_cohort(conn, spec, "rollup")))
                t_scan, scan = best_of(1, lambda: ours_table(by_cohort(conn, spec, "events")))

            csv_path = Path(tmp) / "events.csv"
            raw = engine.raw_connection()
            try:
                with raw.cursor() as cur, csv_path.open("wb") as fh:
                    with cur.copy("COPY (SELECT user_id, occurred_at FROM events WHERE name = 'message_sent')"
                                  " TO STDOUT (FORMAT csv)") as copy:
                        for chunk in copy:
                            fh.write(chunk)
            finally:
                raw.close()
            duck = duckdb.connect()
            duck.execute("SET TimeZone = 'UTC'")
            duck.execute(f"CREATE TABLE ev AS SELECT * FROM read_csv('{csv_path}', header=false,"
                         " columns={'user_id': 'UUID', 'occurred_at': 'TIMESTAMPTZ'})")
            t_duck, duck_rows = best_of(
                args.repeat,
                lambda: [(c.isoformat(), u, e, r) for c, u, e, r in duck.execute(DUCKDB_SQL).fetchall()],
            )
            df = duck.execute("SELECT user_id, occurred_at FROM ev").df()
            df["occurred_at"] = pd.to_datetime(df["occurred_at"], utc=True)
            t_pandas, pandas_rows = best_of(args.repeat, lambda: pandas_table(df))

            out.update({
                "ours_rollup_s": round(t_ours, 3),
                "exists_scan_s": round(t_scan, 3),
                "duckdb_s": round(t_duck, 3),
                "pandas_s": round(t_pandas, 3),
                "ours_vs_duckdb": round(t_ours / t_duck, 3),
                "exists_scan_vs_duckdb": round(t_scan / t_duck, 3),
                "pandas_vs_duckdb": round(t_pandas / t_duck, 3),
                "results_equal": ours == scan == duck_rows == pandas_rows,
                "cohorts": len(ours),
                "overall_day7_rate": round(sum(r[3] for r in ours if r[1] == r[2]) /
                                           max(1, sum(r[2] for r in ours if r[1] == r[2])), 4),
            })
            if not out["results_equal"]:
                out["mismatch"] = {"ours": ours[:3], "scan": scan[:3], "duckdb": duck_rows[:3],
                                   "pandas": pandas_rows[:3]}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
