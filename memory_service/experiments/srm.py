"""Sample-ratio mismatch: are arm counts consistent with the configured weights?

A mismatch means assignment or exposure logging is broken (bots, crashes in one arm, a
config edit mid-phase), and any effect measured on such a split is suspect."""

from dataclasses import dataclass

from scipy.stats import chisquare
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from memory_service.db.models import ExperimentAssignment
from memory_service.experiments.config import Experiment

SRM_ALPHA = 0.001


@dataclass(frozen=True)
class SrmResult:
    counts: dict[str, int]
    expected: dict[str, float]
    chi2: float | None
    p_value: float | None  # None when no user has been assigned yet
    flagged: bool


def srm_test(counts: dict[str, int], weights: dict[str, float], alpha: float = SRM_ALPHA) -> SrmResult:
    """Pearson chi-square of observed against expected counts, flagged at p < alpha.

    Users in an arm of weight 0 (or in no configured arm) cannot happen by design, so any such
    user is flagged outright rather than dividing by a zero expectation."""
    counts = {arm: counts.get(arm, 0) for arm in weights} | {
        arm: n for arm, n in counts.items() if arm not in weights
    }
    total = sum(counts.values())
    expected = {arm: total * weights.get(arm, 0.0) for arm in counts}
    if total == 0:
        return SrmResult(counts, expected, None, None, False)
    impossible = any(n > 0 and expected[arm] == 0 for arm, n in counts.items())
    live = [arm for arm in counts if expected[arm] > 0]
    if impossible:
        return SrmResult(counts, expected, None, 0.0, True)  # no finite statistic; certain mismatch
    if len(live) < 2:
        return SrmResult(counts, expected, 0.0, 1.0, False)
    stat = chisquare([counts[a] for a in live], [expected[a] for a in live])
    p_value = float(stat.pvalue)
    return SrmResult(counts, expected, float(stat.statistic), p_value, p_value < alpha)


def arm_counts(session: Session, experiment: Experiment) -> dict[str, int]:
    """Assigned users per arm in the experiment's current phase and seed."""
    rows = session.execute(
        select(ExperimentAssignment.arm, func.count())
        .where(
            ExperimentAssignment.experiment_key == experiment.key,
            ExperimentAssignment.phase == experiment.phase,
            ExperimentAssignment.seed == experiment.hash_seed,
        )
        .group_by(ExperimentAssignment.arm)
    ).all()
    return {arm.key: 0 for arm in experiment.arms} | {arm: n for arm, n in rows}


def experiment_srm(session: Session, experiment: Experiment) -> SrmResult:
    return srm_test(arm_counts(session, experiment), {arm.key: arm.weight for arm in experiment.arms})
