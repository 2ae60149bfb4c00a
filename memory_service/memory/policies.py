"""Memory policies: named ranking weights, loaded from YAML and validated once at start-up."""

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from memory_service.config_files import load_yaml

Weight = Field(default=0.0, ge=0.0, le=1.0)


class Weights(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    semantic: float = Weight
    context: float = Weight  # similarity of the memory's neighbouring turns
    keyword: float = Weight
    context_keyword: float = Weight  # keyword match of the neighbouring turns
    speaker: float = Weight  # the query names the memory's speaker
    emotion: float = Weight  # congruence of the query's emotion tags with the memory's
    salience: float = Weight  # the memory's emotional intensity
    recency: float = Weight  # exponential decay with the policy's half-life
    importance: float = Weight
    recall: float = Weight  # MemoryBank-style strengthening by past recalls


class MemoryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    description: str = ""
    top_k: int = Field(default=5, ge=0, le=100)
    weights: Weights = Weights()
    half_life_days: float = Field(default=30.0, gt=0)
    dedupe_threshold: float = Field(default=0.97, gt=0.0, le=1.0)
    candidates: int = Field(default=100, ge=1, le=2000)

    @model_validator(mode="after")
    def _has_a_signal(self) -> "MemoryPolicy":
        if self.top_k > 0 and not any(self.weights.model_dump().values()):
            raise ValueError("a policy that recalls memories (top_k > 0) needs at least one non-zero weight")
        return self


class PolicyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    default: str
    policies: dict[str, MemoryPolicy]

    @model_validator(mode="before")
    @classmethod
    def _names_from_keys(cls, data: dict) -> dict:
        policies = data.get("policies") if isinstance(data, dict) else None
        if isinstance(policies, dict):
            data = {**data, "policies": {k: {**(v or {}), "name": k} for k, v in policies.items()}}
        return data

    @model_validator(mode="after")
    def _default_exists(self) -> "PolicyConfig":
        if self.default not in self.policies:
            raise ValueError(f"default policy {self.default!r} is not defined; known: {sorted(self.policies)}")
        return self

    def get(self, name: str) -> MemoryPolicy:
        try:
            return self.policies[name]
        except KeyError:
            raise KeyError(f"unknown memory policy {name!r}; known: {sorted(self.policies)}") from None


class PolicyConfigError(ValueError):
    pass


@lru_cache
def load_policies(path: Path) -> PolicyConfig:
    """Parse and validate; errors name the file and the offending field."""
    return load_yaml(path, PolicyConfig, "memory policies", PolicyConfigError)