"""Memory policy files: the shipped one loads, and every mistake is named with file and field."""

import pytest

from memory_service.config import Settings
from memory_service.memory.policies import PolicyConfigError, load_policies


def test_shipped_policies() -> None:
    config = load_policies(Settings().memory_policies_path)
    assert {"none", "recent", "semantic", "emotional"} <= set(config.policies)
    assert config.get("none").top_k == 0
    assert config.get(config.default).name == config.default
    with pytest.raises(KeyError, match="unknown memory policy 'nostalgia'"):
        config.get("nostalgia")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("default: a\npolicies:\n  a: {weights: {semantic: 1.5}}\n", "policies.a.weights.semantic: Input should be less"),
        ("default: a\npolicies:\n  a: {weights: {semantic: -0.1}}\n", "policies.a.weights.semantic"),
        ("default: a\npolicies:\n  a: {weights: {sematic: 1}}\n", "policies.a.weights.sematic: Extra inputs"),
        ("default: b\npolicies:\n  a: {weights: {semantic: 1}}\n", "default policy 'b' is not defined"),
        ("default: a\npolicies:\n  a: {top_k: 5}\n", "needs at least one non-zero weight"),
        ("default: a\npolicies:\n  a: {weights: {semantic: 1}, half_life_days: 0}\n", "policies.a.half_life_days"),
        ("default: [a\n", "cannot read memory policies"),
    ],
    ids=["weight-above-1", "negative-weight", "unknown-term", "unknown-default", "no-signal", "half-life", "bad-yaml"],
)
def test_invalid_policies_are_named(tmp_path, text: str, expected: str) -> None:
    path = tmp_path / "policies.yaml"
    path.write_text(text)
    with pytest.raises(PolicyConfigError) as error:
        load_policies(path)
    assert str(path) in str(error.value) and expected in str(error.value)
