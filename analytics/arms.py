"""Day-N retention per experiment arm, with Wilson intervals, lift against control and SRM.

Arms come from the sticky assignments table (experiment_assignments), the record of who was
randomized where; users count from their first activity like everywhere else."""

from dataclasses import dataclass

from sqlalchemy import Connection, text

from analytics.retention import RetentionSpec, Source, params, per_user_sql
from analytics.stats import relative_lift_test, wilson
from memory_service.experiments.config import ExperimentsConfig
from memory_service.experiments.srm import srm_test


class ArmAnalysisError(ValueError):
    pass


@dataclass(frozen=True)
class ExperimentRef:
    """Which randomization to read: the key plus its phase and seed, the control arm and the weights."""

    key: str
    phase: str
    seed: str
    control: str
    weights: dict[str, float]


def resolve_experiment(
    conn: Connection,
    key: str,
    config: ExperimentsConfig | None = None,
    *,
    phase: str | None = None,
    control: str | None = None,
) -> ExperimentRef:
    """Phase, seed, control and weights from the experiment config when it knows the key (the
    first arm is the baseline, as in GrowthBook), else from what the assignments table holds."""
    known = next((e for e in config.experiments if e.key == key), None) if config else None
    rows = conn.execute(
        text(
            "SELECT phase, seed, array_agg(DISTINCT arm ORDER BY arm) AS arms FROM experiment_assignments"
            " WHERE experiment_key = :key AND (CAST(:phase AS text) IS NULL OR phase = :phase)"
            " GROUP BY phase, seed ORDER BY phase, seed"
        ),
        {"key": key, "phase": phase},
    ).all()
    if known is not None and (phase is None or phase == known.phase):
        arms = [arm.key for arm in known.arms]
        ref_phase, seed, weights = known.phase, known.hash_seed, {arm.key: arm.weight for arm in known.arms}
    elif not rows:
        raise ArmAnalysisError(f"no assignments for experiment {key!r}" + (f" phase {phase!r}" if phase else ""))
    elif len(rows) > 1:
        found = ", ".join(f"phase {r.phase!r} seed {r.seed!r}" for r in rows)
        raise ArmAnalysisError(f"experiment {key!r} has several randomizations ({found}); pass --phase")
    else:
        arms = list(rows[0].arms)
        ref_phase, seed, weights = rows[0].phase, rows[0].seed, {arm: 1 / len(arms) for arm in arms}
    if control is None:
        if known is not None:
            control = known.arms[0].key
        elif "control" in arms:
            control = "control"
        else:
            raise ArmAnalysisError(f"experiment {key!r} is not in the experiment config; name the control arm with --control")
    if control not in arms:
        raise ArmAnalysisError(f"control arm {control!r} is not an arm of {key!r}; arms: {arms}")
    return ExperimentRef(key=key, phase=ref_phase, seed=seed, control=control, weights=weights)


def by_arm(conn: Connection, spec: RetentionSpec, ref: ExperimentRef, source: Source = "rollup") -> dict:
    """Only users in complete cohorts enter a rate (as in by_cohort's overall); `users` counts
    every assigned user who was ever active, and the SRM test every assigned user."""
    rows = conn.execute(
        text(f"""
            WITH a AS (SELECT user_id, arm FROM experiment_assignments
                        WHERE experiment_key = :exp AND phase = :phase AND seed = :seed),
                 u AS (SELECT u.user_id, u.retained, bool_and(u.eligible) OVER (PARTITION BY u.cohort) AS complete
                         FROM ({per_user_sql(spec, source)}) u)
            SELECT a.arm, count(*) AS assigned, count(u.user_id) AS users,
                   count(*) FILTER (WHERE u.complete) AS eligible,
                   count(*) FILTER (WHERE u.complete AND u.retained) AS retained
              FROM a LEFT JOIN u ON u.user_id = a.user_id
             GROUP BY a.arm
        """),
        {**params(spec), "exp": ref.key, "phase": ref.phase, "seed": ref.seed},
    ).all()
    found = {r.arm: r for r in rows}
    arms = list(ref.weights) + sorted(set(found) - set(ref.weights))
    control = found.get(ref.control)
    c_ret, c_n = (control.retained, control.eligible) if control else (0, 0)
    out_rows = []
    for arm in arms:
        r = found.get(arm)
        users, eligible, retained = (r.users, r.eligible, r.retained) if r else (0, 0, 0)
        low, high = wilson(retained, eligible)
        test = relative_lift_test(c_ret, c_n, retained, eligible) if arm != ref.control else None
        out_rows.append({
            "arm": arm,
            "users": users,
            "eligible": eligible,
            "retained": retained,
            "rate": retained / eligible if eligible else None,
            "ci_low": low,
            "ci_high": high,
            "lift": test.lift if test else None,
            "p_value": test.p_value if test else None,
        })
    srm = srm_test({arm: found[arm].assigned if arm in found else 0 for arm in arms}, ref.weights)
    eligible = sum(r["eligible"] for r in out_rows)
    retained = sum(r["retained"] for r in out_rows)
    return {
        "day": spec.day,
        "mode": spec.mode,
        "window": spec.window,
        "experiment": ref.key,
        "phase": ref.phase,
        "control": ref.control,
        "srm_p_value": srm.p_value,
        "rows": out_rows,
        "overall": {"eligible": eligible, "retained": retained, "rate": retained / eligible if eligible else None},
    }
