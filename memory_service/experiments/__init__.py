"""A/B experiments over memory policies: config, GrowthBook-compatible hashing, sticky assignment, SRM."""

from memory_service.experiments.assignment import (
    PolicyChoice,
    choose_policy,
    memory_policy_for,
    record_exposure,
)
from memory_service.experiments.config import (
    Experiment,
    ExperimentConfigError,
    ExperimentsConfig,
    load_experiments,
)
from memory_service.experiments.hashing import gb_hash
from memory_service.experiments.srm import SrmResult, experiment_srm, srm_test

__all__ = [
    "Experiment",
    "ExperimentConfigError",
    "ExperimentsConfig",
    "PolicyChoice",
    "SrmResult",
    "choose_policy",
    "experiment_srm",
    "gb_hash",
    "load_experiments",
    "memory_policy_for",
    "record_exposure",
    "srm_test",
]
