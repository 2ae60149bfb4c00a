"""Experiments as validated YAML: which memory policy each arm serves, to whom, and since when.

Every error names the file, the experiment and the field, and is raised at start-up."""

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from memory_service.memory.policies import MemoryPolicy, PolicyConfig

KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
WEIGHT_TOLERANCE = 1e-6
FIRST_PHASE = "0"


class ExperimentConfigError(ValueError):
    pass


class Arm(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    key: str = Field(pattern=KEY_PATTERN)
    weight: float = Field(ge=0.0, le=1.0)
    memory_policy: str
    # Parameters of the memory policy this arm changes, e.g. {top_k: 3}; validated like the policy.
    overrides: dict[str, Any] = Field(default_factory=dict)
    router_policy: str | None = None  # read by the router once it exists


class Experiment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    key: str = Field(pattern=KEY_PATTERN)
    description: str = ""
    active: bool = True
    # GrowthBook hashes with the seed when set, else the key; a new seed or a new phase
    # re-randomizes (see hash_seed) and starts fresh assignments and exposures.
    seed: str | None = None
    phase: str = FIRST_PHASE
    hash_version: int = Field(default=2, ge=1, le=2)
    coverage: float = Field(default=1.0, ge=0.0, le=1.0)
    start: datetime | None = None
    end: datetime | None = None
    arms: list[Arm] = Field(min_length=2)

    @field_validator("phase", mode="before")
    @classmethod
    def _phase_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a timezone, e.g. 2027-01-01T00:00:00Z")
        return value

    @field_validator("arms")
    @classmethod
    def _arms(cls, arms: list[Arm]) -> list[Arm]:
        keys = [arm.key for arm in arms]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"duplicate arm keys {duplicates}")
        total = math.fsum(arm.weight for arm in arms)
        if abs(total - 1.0) > WEIGHT_TOLERANCE:
            raise ValueError(f"arm weights sum to {total:g}, not 1")
        return arms

    @model_validator(mode="after")
    def _window(self) -> "Experiment":
        if self.start and self.end and self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    @property
    def hash_seed(self) -> str:
        """The first phase hashes exactly as GrowthBook does (its seed, else its key); a later
        phase appends its name, so starting a new phase re-randomizes, as a new seed does."""
        base = self.seed if self.seed is not None else self.key
        return base if self.phase == FIRST_PHASE else f"{base}:{self.phase}"

    @property
    def weights(self) -> list[float]:
        return [arm.weight for arm in self.arms]

    def arm(self, key: str) -> Arm | None:
        return next((arm for arm in self.arms if arm.key == key), None)

    def is_running(self, now: datetime | None = None) -> bool:
        now = now or datetime.now(UTC)
        return self.active and (self.start is None or self.start <= now) and (self.end is None or now < self.end)


class ExperimentsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    experiments: list[Experiment] = Field(default_factory=list)

    def get(self, key: str) -> Experiment:
        for experiment in self.experiments:
            if experiment.key == key:
                return experiment
        raise KeyError(f"unknown experiment {key!r}; known: {sorted(e.key for e in self.experiments)}")


def effective_policy(policies: PolicyConfig, name: str, overrides: dict[str, Any]) -> MemoryPolicy:
    """The named policy with an arm's overrides applied and validated as a whole policy.

    Nested settings merge: `{weights: {recency: 0.2}}` changes one weight and keeps the others."""
    base = policies.get(name)
    if not overrides:
        return base
    merged = base.model_dump()
    for field_name, value in overrides.items():
        current = merged.get(field_name)
        merged[field_name] = {**current, **value} if isinstance(current, dict) and isinstance(value, dict) else value
    return MemoryPolicy.model_validate({**merged, "name": name})


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load keeps the last of two equal mapping keys; a silently dropped experiment or
    arm setting is worse than an error."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _where(raw: Any, loc: tuple) -> str:
    """'experiment 'x' field arms.2.weight' from a pydantic location like ('experiments', 0, 'arms', 2, 'weight')."""
    if len(loc) >= 2 and loc[0] == "experiments" and isinstance(loc[1], int):
        try:
            key = raw["experiments"][loc[1]].get("key")
        except (KeyError, IndexError, TypeError, AttributeError):
            key = None
        name = f"experiment {key!r}" if key else f"experiment #{loc[1] + 1}"
        field = ".".join(map(str, loc[2:])) or "(whole experiment)"
        return f"{name} field {field}"
    return f"field {'.'.join(map(str, loc)) or '(top level)'}"


def _cross_checks(config: ExperimentsConfig, policies: PolicyConfig) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for experiment in config.experiments:
        if experiment.key in seen:
            problems.append(f"experiment {experiment.key!r} field key: duplicate experiment key")
        seen.add(experiment.key)
        for i, arm in enumerate(experiment.arms):
            where = f"experiment {experiment.key!r} field arms.{i}"
            if arm.memory_policy not in policies.policies:
                problems.append(
                    f"{where}.memory_policy: unknown memory policy {arm.memory_policy!r};"
                    f" known: {sorted(policies.policies)}"
                )
                continue
            try:
                effective_policy(policies, arm.memory_policy, arm.overrides)
            except ValidationError as exc:
                problems.extend(
                    f"{where}.overrides.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
                )
    return problems


def parse_experiments(raw: Any, policies: PolicyConfig, source: str = "<experiments>") -> ExperimentsConfig:
    if raw is None:
        raw = {}
    try:
        config = ExperimentsConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{_where(raw, tuple(e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ExperimentConfigError(f"{source}: invalid experiments: {problems}") from exc
    problems = _cross_checks(config, policies)
    if problems:
        raise ExperimentConfigError(f"{source}: invalid experiments: {'; '.join(problems)}")
    return config


def load_experiments(path: Path, policies: PolicyConfig) -> ExperimentsConfig:
    """Read, parse and validate against the memory policies. Not cached: a reload re-reads."""
    try:
        raw = yaml.load(Path(path).read_text(), Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except (OSError, yaml.YAMLError) as exc:
        raise ExperimentConfigError(f"{path}: cannot read experiments: {exc}") from exc
    return parse_experiments(raw, policies, str(path))
