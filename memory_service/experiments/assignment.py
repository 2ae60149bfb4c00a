"""Which memory policy serves a user: sticky arms, hashed on first exposure, exposure logged once.

Two steps so a chat turn keeps its all-or-nothing write: `choose_policy` only reads (the turn calls
it before generating), `record_exposure` writes the assignment and its event in the turn's final
transaction. `memory_policy_for` does both at once for callers without that constraint."""

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from memory_service.db.models import ExperimentAssignment
from memory_service.events import log_event
from memory_service.experiments.config import Arm, Experiment, ExperimentsConfig, effective_policy
from memory_service.experiments.hashing import bucket_ranges, choose_variation, gb_hash
from memory_service.memory.policies import MemoryPolicy, PolicyConfig

log = logging.getLogger(__name__)

EXPOSURE_EVENT = "experiment_exposure"


@dataclass(frozen=True)
class PolicyChoice:
    """The memory policy serving one user, and the experiment arm that chose it (if any)."""

    policy_name: str
    policy: MemoryPolicy  # with the arm's overrides applied
    experiment_key: str | None = None
    arm: str | None = None
    phase: str | None = None
    seed: str | None = None
    router_policy: str | None = None
    sticky: bool = False  # read from a stored assignment rather than hashed now

    @property
    def in_experiment(self) -> bool:
        return self.experiment_key is not None


def default_choice(policies: PolicyConfig) -> PolicyChoice:
    return PolicyChoice(policy_name=policies.default, policy=policies.get(policies.default))


def hash_arm(experiment: Experiment, hash_value: str) -> Arm | None:
    """The arm GrowthBook would pick for this id, or None when it falls outside the coverage."""
    n = gb_hash(experiment.hash_seed, hash_value, experiment.hash_version)
    if n is None:
        return None
    index = choose_variation(n, bucket_ranges(len(experiment.arms), experiment.coverage, experiment.weights))
    return experiment.arms[index] if index >= 0 else None


def _choice(experiment: Experiment, arm: Arm, policies: PolicyConfig, *, sticky: bool) -> PolicyChoice:
    return PolicyChoice(
        policy_name=arm.memory_policy,
        policy=effective_policy(policies, arm.memory_policy, arm.overrides),
        experiment_key=experiment.key,
        arm=arm.key,
        phase=experiment.phase,
        seed=experiment.hash_seed,
        router_policy=arm.router_policy,
        sticky=sticky,
    )


def _from_row(experiment: Experiment, row: ExperimentAssignment, policies: PolicyConfig) -> PolicyChoice:
    """A stored arm wins over the current config: an edit must not silently move anyone."""
    arm = experiment.arm(row.arm)
    if arm is not None and arm.memory_policy == row.memory_policy:
        return _choice(experiment, arm, policies, sticky=True)
    if row.memory_policy in policies.policies:
        policy_name = row.memory_policy
        log.warning(
            "experiment %r arm %r changed since user %s was assigned; serving the stored policy %r",
            experiment.key, row.arm, row.user_id, policy_name,
        )
    else:
        policy_name = policies.default
        log.warning(
            "experiment %r: stored policy %r of user %s no longer exists; serving the default %r",
            experiment.key, row.memory_policy, row.user_id, policy_name,
        )
    return PolicyChoice(
        policy_name=policy_name,
        policy=policies.get(policy_name),
        experiment_key=experiment.key,
        arm=row.arm,
        phase=row.phase,
        seed=row.seed,
        sticky=True,
    )


def stored_assignments(
    session: Session, user_id: uuid.UUID, experiments: list[Experiment]
) -> dict[str, ExperimentAssignment]:
    """This user's rows for the current phase and seed of each experiment, by experiment key."""
    if not experiments:
        return {}
    wanted = [(e.key, e.phase, e.hash_seed) for e in experiments]
    rows = session.scalars(
        select(ExperimentAssignment).where(
            ExperimentAssignment.user_id == user_id,
            tuple_(ExperimentAssignment.experiment_key, ExperimentAssignment.phase, ExperimentAssignment.seed).in_(
                wanted
            ),
        )
    ).all()
    return {row.experiment_key: row for row in rows}


def choose_for(
    session: Session, experiment: Experiment, policies: PolicyConfig, user_id: uuid.UUID
) -> PolicyChoice | None:
    """This experiment's arm for the user (stored, else hashed); None outside coverage. Reads only."""
    row = stored_assignments(session, user_id, [experiment]).get(experiment.key)
    return _stored_or_hashed(experiment, policies, user_id, row)


def _stored_or_hashed(
    experiment: Experiment, policies: PolicyConfig, user_id: uuid.UUID, row: ExperimentAssignment | None
) -> PolicyChoice | None:
    if row is not None:
        return _from_row(experiment, row, policies)
    arm = hash_arm(experiment, str(user_id))
    return _choice(experiment, arm, policies, sticky=False) if arm is not None else None


def choose_policy(
    session: Session,
    experiments: ExperimentsConfig,
    policies: PolicyConfig,
    user_id: uuid.UUID,
    now: datetime | None = None,
) -> PolicyChoice:
    """Reads only. Running experiments are tried in file order: a stored arm in any of them
    first, then the first whose coverage includes the user; otherwise the default policy."""
    running = [e for e in experiments.experiments if e.is_running(now)]
    rows = stored_assignments(session, user_id, running)
    for experiment in running:
        if experiment.key in rows:
            return _from_row(experiment, rows[experiment.key], policies)
    for experiment in running:
        arm = hash_arm(experiment, str(user_id))
        if arm is not None:
            return _choice(experiment, arm, policies, sticky=False)
    return default_choice(policies)


def record_exposure(session: Session, user_id: uuid.UUID, choice: PolicyChoice) -> bool:
    """Store the arm and log the exposure event, once per user, experiment, phase and seed.

    Returns True when this call created the assignment. Safe under concurrent first turns:
    the insert is ON CONFLICT DO NOTHING and only the winner logs the event."""
    if choice.experiment_key is None or choice.sticky:
        return False
    inserted = session.execute(
        insert(ExperimentAssignment)
        .values(
            user_id=user_id,
            experiment_key=choice.experiment_key,
            phase=choice.phase,
            seed=choice.seed,
            arm=choice.arm,
            memory_policy=choice.policy_name,
        )
        .on_conflict_do_nothing()
        .returning(ExperimentAssignment.arm)
    ).first()
    if inserted is None:
        return False
    log_event(session, EXPOSURE_EVENT, user_id, **_exposure_properties(choice))
    return True


def memory_policy_for(
    session: Session,
    experiments: ExperimentsConfig,
    policies: PolicyConfig,
    user_id: uuid.UUID,
    now: datetime | None = None,
) -> PolicyChoice:
    """Choose and, on first exposure, store the arm and log the exposure, in the caller's transaction."""
    choice = choose_policy(session, experiments, policies, user_id, now)
    record_exposure(session, user_id, choice)
    return choice


def assign(
    session: Session, experiment: Experiment, policies: PolicyConfig, user_id: uuid.UUID
) -> PolicyChoice | None:
    """One named experiment (CLI, back-fills): the user's arm, stored at first call; None outside coverage."""
    choice = choose_for(session, experiment, policies, user_id)
    if choice is not None:
        record_exposure(session, user_id, choice)
    return choice


def _exposure_properties(choice: PolicyChoice) -> dict[str, str | None]:
    return {"experiment": choice.experiment_key, "phase": choice.phase, "seed": choice.seed, "arm": choice.arm,
            "policy": choice.policy_name}


def assign_many(
    session: Session,
    experiment: Experiment,
    policies: PolicyConfig,
    user_ids: Sequence[uuid.UUID],
    at: Sequence[datetime],
) -> list[PolicyChoice | None]:
    """`assign` for many users in three statements (bulk back-fills, the simulation), with the same
    choices: stored arms first, else the hash. New assignments and their exposure events are dated
    `at` (one time per user), so replayed history keeps its clock."""
    wanted = (experiment.key, experiment.phase, experiment.hash_seed)
    stored = {
        row.user_id: row
        for row in session.scalars(
            select(ExperimentAssignment).where(
                ExperimentAssignment.user_id.in_(user_ids),
                tuple_(ExperimentAssignment.experiment_key, ExperimentAssignment.phase, ExperimentAssignment.seed)
                == wanted,
            )
        )
    }
    choices = [_stored_or_hashed(experiment, policies, u, stored.get(u)) for u in user_ids]
    new = [(u, c, t) for u, c, t in zip(user_ids, choices, at, strict=True) if c is not None and not c.sticky]
    if not new:
        return choices
    # Only rows this call inserted get an exposure event (a concurrent first exposure keeps its own).
    session.execute(
        text(
            "WITH n AS (SELECT * FROM unnest(CAST(:users AS uuid[]), CAST(:arms AS text[]), CAST(:policies AS text[]),"
            " CAST(:ats AS timestamptz[]), CAST(:props AS jsonb[])) AS n(user_id, arm, memory_policy, at, props)),"
            " added AS (INSERT INTO experiment_assignments"
            " (user_id, experiment_key, phase, seed, arm, memory_policy, assigned_at)"
            " SELECT user_id, :key, :phase, :seed, arm, memory_policy, at FROM n ON CONFLICT DO NOTHING"
            " RETURNING user_id)"
            f" INSERT INTO events (user_id, name, properties, occurred_at) SELECT n.user_id, '{EXPOSURE_EVENT}',"
            " n.props, n.at FROM n JOIN added USING (user_id)"
        ),
        {
            "users": [u for u, _, _ in new],
            "arms": [c.arm for _, c, _ in new],
            "policies": [c.policy_name for _, c, _ in new],
            "ats": [t for _, _, t in new],
            "props": [json.dumps(_exposure_properties(c)) for _, c, _ in new],
            "key": experiment.key,
            "phase": experiment.phase,
            "seed": experiment.hash_seed,
        },
    )
    return choices


def user_assignments(session: Session, user_id: uuid.UUID) -> list[ExperimentAssignment]:
    return list(
        session.scalars(
            select(ExperimentAssignment)
            .where(ExperimentAssignment.user_id == user_id)
            .order_by(ExperimentAssignment.assigned_at, ExperimentAssignment.experiment_key)
        ).all()
    )
