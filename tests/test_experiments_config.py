"""The experiments YAML: every bad input fails loudly, naming the experiment and the field."""

from pathlib import Path

import pytest

from memory_service.config import REPO_ROOT, Settings
from memory_service.experiments.config import ExperimentConfigError, effective_policy, load_experiments
from memory_service.memory.policies import load_policies
from memory_service.runtime import build_runtime

POLICIES = load_policies(REPO_ROOT / "config" / "memory_policies.yaml")

GOOD_ARMS = """
    arms:
      - {key: a, weight: 0.5, memory_policy: semantic}
      - {key: b, weight: 0.5, memory_policy: emotional}
"""


def _load(tmp_path: Path, text: str):
    path = tmp_path / "experiments.yaml"
    path.write_text(text)
    return load_experiments(path, POLICIES)


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ExperimentConfigError) as info:
        _load(tmp_path, text)
    return str(info.value)


def test_shipped_config_is_valid() -> None:
    config = load_experiments(REPO_ROOT / "config" / "experiments.yaml", POLICIES)
    experiment = config.get("memory-policy-v1")
    assert [arm.memory_policy for arm in experiment.arms] == ["none", "recent", "semantic", "emotional"]


def test_defaults_and_overrides(tmp_path: Path) -> None:
    config = _load(tmp_path, f"""
experiments:
  - key: exp
    phase: 3
    seed: exp-phase-3
    arms:
      - {{key: a, weight: 0.5, memory_policy: semantic, overrides: {{top_k: 2}}}}
      - {{key: b, weight: 0.5, memory_policy: emotional}}
""")
    experiment = config.experiments[0]
    assert experiment.phase == "3" and experiment.hash_seed == "exp-phase-3:3" and experiment.hash_version == 2
    assert experiment.coverage == 1.0 and experiment.is_running()
    assert effective_policy(POLICIES, "semantic", experiment.arms[0].overrides).top_k == 2
    assert _load(tmp_path, "").experiments == []  # an empty file means no experiments


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ("""
  - key: exp
    arms:
      - {key: a, weight: 0.5, memory_policy: semantic}
      - {key: b, weight: 0.4, memory_policy: emotional}
""", ["experiment 'exp' field arms", "arm weights sum to 0.9, not 1"]),
        ("""
  - key: exp
    arms:
      - {key: a, weight: 0.5, memory_policy: semantic}
      - {key: b, weight: 0.5, memory_policy: nostalgia}
""", ["experiment 'exp' field arms.1.memory_policy", "unknown memory policy 'nostalgia'", "'emotional'"]),
        (f"""
  - key: exp
{GOOD_ARMS}
  - key: exp
{GOOD_ARMS}
""", ["experiment 'exp' field key", "duplicate experiment key"]),
        (f"""
  - key: exp
    coverage: -0.1
{GOOD_ARMS}
""", ["experiment 'exp' field coverage", "greater than or equal to 0"]),
        (f"""
  - key: exp
    coverage: 1.5
{GOOD_ARMS}
""", ["experiment 'exp' field coverage", "less than or equal to 1"]),
        ("""
  - key: exp
    arms:
      - {key: a, weight: 0.5, memory_policy: semantic}
      - {key: a, weight: 0.5, memory_policy: emotional}
""", ["experiment 'exp' field arms", "duplicate arm keys ['a']"]),
        ("""
  - key: exp
    arms:
      - {key: a, weight: 1.0, memory_policy: semantic}
""", ["experiment 'exp' field arms", "at least 2 items"]),
        ("""
  - key: exp
    arms:
      - {key: a, weight: -0.5, memory_policy: semantic}
      - {key: b, weight: 1.5, memory_policy: emotional}
""", ["experiment 'exp' field arms.0.weight", "experiment 'exp' field arms.1.weight"]),
        ("""
  - key: exp
    arms:
      - {key: a, weight: 0.5, memory_policy: semantic, overrides: {top_k: -1}}
      - {key: b, weight: 0.5, memory_policy: emotional, overrides: {colour: red}}
""", ["experiment 'exp' field arms.0.overrides.top_k", "experiment 'exp' field arms.1.overrides.colour"]),
        (f"""
  - key: exp
    covrage: 0.5
{GOOD_ARMS}
""", ["experiment 'exp' field covrage", "Extra inputs are not permitted"]),
        (f"""
  - key: exp
    hash_version: 3
{GOOD_ARMS}
""", ["experiment 'exp' field hash_version"]),
        (f"""
  - key: exp
    start: 2027-02-01T00:00:00Z
    end: 2027-01-01T00:00:00Z
{GOOD_ARMS}
""", ["experiment 'exp'", "end must be after start"]),
        (f"""
  - key: exp
    start: 2027-02-01T00:00:00
{GOOD_ARMS}
""", ["experiment 'exp' field start", "needs a timezone"]),
        (f"""
  - key: has space
{GOOD_ARMS}
""", ["experiment 'has space' field key"]),
        (f"""
  - description: no key
{GOOD_ARMS}
""", ["experiment #1 field key", "Field required"]),
    ],
    ids=[
        "weights-sum", "unknown-policy", "duplicate-experiment", "negative-coverage", "coverage-above-1",
        "duplicate-arm", "single-arm", "weight-range", "bad-overrides", "unknown-field", "hash-version",
        "end-before-start", "naive-datetime", "bad-key", "missing-key",
    ],
)
def test_errors_name_experiment_and_field(tmp_path: Path, body: str, fragments: list[str]) -> None:
    message = _error(tmp_path, "experiments:" + body)
    assert str(tmp_path / "experiments.yaml") in message
    for fragment in fragments:
        assert fragment in message, message


def test_duplicate_yaml_keys_are_errors(tmp_path: Path) -> None:
    # safe_load would silently keep the second value.
    message = _error(tmp_path, """
experiments:
  - key: exp
    coverage: 0.5
    coverage: 1.0
""" + GOOD_ARMS)
    assert "duplicate key 'coverage'" in message and "line 5" in message


def test_unreadable_or_malformed_file(tmp_path: Path) -> None:
    with pytest.raises(ExperimentConfigError, match="cannot read experiments"):
        load_experiments(tmp_path / "missing.yaml", POLICIES)
    assert "top level" in _error(tmp_path, "- just\n- a list\n")


def test_invalid_config_fails_start_up(tmp_path: Path) -> None:
    bad = tmp_path / "experiments.yaml"
    bad.write_text("experiments:\n  - key: exp\n    coverage: -1\n" + GOOD_ARMS)
    # Fails before the database or any model is started.
    with pytest.raises(ExperimentConfigError, match="experiment 'exp' field coverage"):
        build_runtime(Settings(experiments_path=bad, pg_data_dir=tmp_path / "never-started"))
    assert not (tmp_path / "never-started").exists()


def test_overrides_merge_nested_weights() -> None:
    policy = effective_policy(POLICIES, "emotional", {"weights": {"recency": 0.2}, "top_k": 3})
    base = POLICIES.get("emotional")
    assert policy.top_k == 3 and policy.weights.recency == 0.2
    assert policy.weights.semantic == base.weights.semantic  # untouched weights stay
