"""A user's experiment arms, and the admin overview of experiments with their SRM check."""

from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict

from memory_service.api.auth import ActingUser, require_admin
from memory_service.api.deps import RuntimeDep
from memory_service.experiments.assignment import user_assignments
from memory_service.experiments.srm import SRM_ALPHA, experiment_srm
from memory_service.users import get_user

router = APIRouter(prefix="/v1", tags=["experiments"])


class AssignmentPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    experiment_key: str
    phase: str
    seed: str
    arm: str
    memory_policy: str
    assigned_at: datetime


class ArmSummary(BaseModel):
    key: str
    weight: float
    memory_policy: str
    users: int


class SrmSummary(BaseModel):
    chi2: float | None
    p_value: float | None
    alpha: float
    flagged: bool


class ExperimentSummary(BaseModel):
    key: str
    description: str
    running: bool
    phase: str
    seed: str
    hash_version: int
    coverage: float
    start: datetime | None
    end: datetime | None
    users: int
    arms: list[ArmSummary]
    srm: SrmSummary


@router.get("/users/{user_id}/experiments", response_model=list[AssignmentPublic])
def get_user_experiments(runtime: RuntimeDep, user_id: ActingUser) -> list[AssignmentPublic]:
    with runtime.db.transaction() as session:
        get_user(session, user_id)
        return [AssignmentPublic.model_validate(row) for row in user_assignments(session, user_id)]


@router.get(
    "/admin/experiments", response_model=list[ExperimentSummary], dependencies=[Depends(require_admin)]
)
def get_admin_experiments(runtime: RuntimeDep) -> list[ExperimentSummary]:
    summaries = []
    with runtime.db.transaction() as session:
        for experiment in runtime.experiments.experiments:
            srm = experiment_srm(session, experiment)
            summaries.append(
                ExperimentSummary(
                    key=experiment.key,
                    description=experiment.description,
                    running=experiment.is_running(),
                    phase=experiment.phase,
                    seed=experiment.hash_seed,
                    hash_version=experiment.hash_version,
                    coverage=experiment.coverage,
                    start=experiment.start,
                    end=experiment.end,
                    users=sum(srm.counts.values()),
                    arms=[
                        ArmSummary(
                            key=arm.key, weight=arm.weight, memory_policy=arm.memory_policy,
                            users=srm.counts.get(arm.key, 0),
                        )
                        for arm in experiment.arms
                    ],
                    srm=SrmSummary(chi2=srm.chi2, p_value=srm.p_value, alpha=SRM_ALPHA, flagged=srm.flagged),
                )
            )
    return summaries
