"""GrowthBook compatibility of hashing and bucketing, arm proportions, and the SRM test (no database)."""

import uuid
from collections import Counter

import pytest

from memory_service.experiments import gb_hash
from memory_service.experiments.assignment import hash_arm
from memory_service.experiments.config import Experiment
from memory_service.experiments.hashing import bucket_ranges, choose_variation, equal_weights, fnv1a32
from memory_service.experiments.srm import srm_test

# Test vectors copied from GrowthBook's cross-SDK test suite, packages/sdk-js/test/cases.json
# in github.com/growthbook/growthbook (sections "hash", "getBucketRange", "chooseVariation",
# "getEqualWeights", "run" and "feature"). Every GrowthBook SDK must pass these.
GB_HASH = [
    ("", "a", 1, 0.22),
    ("", "b", 1, 0.077),
    ("b", "a", 1, 0.946),
    ("ef", "d", 1, 0.652),
    ("asdf", "8952klfjas09ujk", 1, 0.549),
    ("", "123", 1, 0.011),
    ("", '___)((*":&', 1, 0.563),
    ("seed", "a", 2, 0.0505),
    ("seed", "b", 2, 0.2696),
    ("foo", "ab", 2, 0.2575),
    ("foo", "def", 2, 0.2019),
    ("89123klj", "8952klfjas09ujkasdf", 2, 0.124),
    ("90850943850283058242805", "123", 2, 0.7516),
    ("()**(%$##$%#$#", '___)((*":&', 2, 0.0128),
    ("abc", "def", 99, None),
]

GB_BUCKET_RANGES = [  # (name, numVariations, coverage, weights, expected ranges)
    ("normal 50/50", 2, 1, None, [(0, 0.5), (0.5, 1)]),
    ("reduced coverage", 2, 0.5, None, [(0, 0.25), (0.5, 0.75)]),
    ("zero coverage", 2, 0, None, [(0, 0), (0.5, 0.5)]),
    ("4 variations", 4, 1, None, [(0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1)]),
    ("uneven weights", 2, 1, [0.4, 0.6], [(0, 0.4), (0.4, 1)]),
    ("uneven weights, 3 variations", 3, 1, [0.2, 0.3, 0.5], [(0, 0.2), (0.2, 0.5), (0.5, 1)]),
    ("uneven weights, reduced coverage, 3 variations", 3, 0.2, [0.2, 0.3, 0.5], [(0, 0.04), (0.2, 0.26), (0.5, 0.6)]),
    ("negative coverage", 2, -0.2, None, [(0, 0), (0.5, 0.5)]),
    ("coverage above 1", 2, 1.5, None, [(0, 0.5), (0.5, 1)]),
    ("weights sum below 1", 2, 1, [0.4, 0.1], [(0, 0.5), (0.5, 1)]),
    ("weights sum above 1", 2, 1, [0.7, 0.6], [(0, 0.5), (0.5, 1)]),
    ("weights.length not equal to num variations", 4, 1, [0.4, 0.4, 0.2],
     [(0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1)]),
    ("weights sum almost equals 1", 2, 1, [0.4, 0.5999], [(0, 0.4), (0.4, 0.9999)]),
]

GB_CHOOSE_VARIATION = [  # (name, n, ranges, expected index)
    ("even range, 0.2", 0.2, [(0, 0.5), (0.5, 1)], 0),
    ("even range, 0.4", 0.4, [(0, 0.5), (0.5, 1)], 0),
    ("even range, 0.6", 0.6, [(0, 0.5), (0.5, 1)], 1),
    ("even range, 0.8", 0.8, [(0, 0.5), (0.5, 1)], 1),
    ("even range, 0", 0, [(0, 0.5), (0.5, 1)], 0),
    ("even range, 0.5", 0.5, [(0, 0.5), (0.5, 1)], 1),
    ("reduced range, 0.2", 0.2, [(0, 0.25), (0.5, 0.75)], 0),
    ("reduced range, 0.4", 0.4, [(0, 0.25), (0.5, 0.75)], -1),
    ("reduced range, 0.6", 0.6, [(0, 0.25), (0.5, 0.75)], 1),
    ("reduced range, 0.8", 0.8, [(0, 0.25), (0.5, 0.75)], -1),
    ("reduced range, 0.25", 0.25, [(0, 0.25), (0.5, 0.75)], -1),
    ("reduced range, 0.5", 0.5, [(0, 0.25), (0.5, 0.75)], 1),
    ("zero range", 0.5, [(0, 0.5), (0.5, 0.5), (0.5, 1)], 2),
]

# "run" cases: experiment key "my-test" (hashed with the key as seed, hash version 1) for ids "1".."9".
# None means "not in the experiment" (GrowthBook returns inExperiment=false).
GB_RUN_DEFAULT_WEIGHTS = [1, 0, 0, 1, 1, 1, 0, 1, 0]
GB_RUN_UNEVEN_WEIGHTS = [1, 1, 0, 1, 1, 1, 0, 1, 1]  # weights [0.1, 0.9]
GB_RUN_COVERAGE_04 = [None, 0, 0, None, 1, None, 0, 1, None]  # coverage 0.4
GB_RUN_THREE_WAY = [2, 0, 0, 2, 1, 2, 0, 1, 0]


@pytest.mark.parametrize(("seed", "value", "version", "expected"), GB_HASH)
def test_gb_hash_matches_growthbook(seed: str, value: str, version: int, expected: float | None) -> None:
    assert gb_hash(seed, value, version) == expected


def test_fnv1a32_known_values() -> None:
    # The FNV-1a reference values (offset basis for "", and "a").
    assert fnv1a32("") == 0x811C9DC5
    assert fnv1a32("a") == 0xE40C292C


def test_fnv1a32_hashes_utf16_code_units_like_javascript() -> None:
    def over_units(units: list[int]) -> int:
        hval = 0x811C9DC5
        for unit in units:
            hval = ((hval ^ unit) * 0x01000193) % 2**32
        return hval

    assert fnv1a32("é") == over_units([0xE9])
    assert fnv1a32("a😀") == over_units([0x61, 0xD83D, 0xDE00])  # a surrogate pair is two charCodeAt units


@pytest.mark.parametrize(("name", "n", "coverage", "weights", "expected"), GB_BUCKET_RANGES)
def test_bucket_ranges_match_growthbook(name, n, coverage, weights, expected) -> None:
    ranges = bucket_ranges(n, coverage, weights)
    assert len(ranges) == len(expected), name
    for (start, end), (exp_start, exp_end) in zip(ranges, expected, strict=True):
        assert start == pytest.approx(exp_start, abs=1e-9) and end == pytest.approx(exp_end, abs=1e-9), name


@pytest.mark.parametrize(("name", "n", "ranges", "expected"), GB_CHOOSE_VARIATION)
def test_choose_variation_matches_growthbook(name, n, ranges, expected) -> None:
    assert choose_variation(n, ranges) == expected, name


def test_equal_weights_match_growthbook() -> None:
    assert equal_weights(-1) == [] and equal_weights(0) == [] and equal_weights(1) == [1]
    assert equal_weights(3) == pytest.approx([0.33333333] * 3)


def _experiment(n_arms: int, *, key: str = "my-test", weights=None, coverage: float = 1.0, **extra) -> Experiment:
    weights = weights or [1 / n_arms] * n_arms
    return Experiment(
        key=key,
        coverage=coverage,
        hash_version=extra.pop("hash_version", 1),
        arms=[{"key": str(i), "weight": w, "memory_policy": "semantic"} for i, w in enumerate(weights)],
        **extra,
    )


def _arm_index(experiment: Experiment, user: str) -> int | None:
    arm = hash_arm(experiment, user)
    return None if arm is None else int(arm.key)


@pytest.mark.parametrize(
    ("experiment", "expected"),
    [
        (_experiment(2), GB_RUN_DEFAULT_WEIGHTS),
        (_experiment(2, weights=[0.1, 0.9]), GB_RUN_UNEVEN_WEIGHTS),
        (_experiment(2, coverage=0.4), GB_RUN_COVERAGE_04),
        (_experiment(3), GB_RUN_THREE_WAY),
    ],
    ids=["default weights", "uneven weights", "coverage 0.4", "three way"],
)
def test_assignment_matches_growthbook_run_cases(experiment: Experiment, expected: list[int | None]) -> None:
    assert [_arm_index(experiment, str(i)) for i in range(1, 10)] == expected


def test_assignment_matches_growthbook_seed_and_version_cases() -> None:
    assert _arm_index(_experiment(2, key="my-test-3"), "1") == 0  # "test name - my-test-3"
    assert _arm_index(_experiment(2, coverage=0.0, key="no-coverage"), "1") is None  # "coverage 0"
    # "Uses seed with default weights/coverage" and "... with weights/coverage"
    assert _arm_index(_experiment(2, key="key", seed="foo", hash_version=2), "1") == 1
    assert _arm_index(_experiment(2, key="key", seed="foo", hash_version=2, coverage=0.99), "1") == 1
    # "feature" cases: bucket values GrowthBook reports for a rule keyed "feature".
    assert gb_hash("feature", "123", 1) == 0.863 and gb_hash("feature", "456", 1) == 0.178
    assert gb_hash("feature", "123", 2) == 0.5231  # "creates experiments properly"
    assert _arm_index(_experiment(2, key="x", seed="feature", hash_version=2, weights=[0.1, 0.9], coverage=0.99),
                      "123") == 1
    assert _arm_index(_experiment(3, key="feature"), "123") == 2  # "empty experiment rule - c"


def _ids(n: int) -> list[str]:
    # Fixed, UUID-shaped synthetic ids: deterministic, like real user ids.
    return [str(uuid.UUID(int=i * 0x9E3779B97F4A7C15 % (1 << 128))) for i in range(n)]


@pytest.mark.parametrize(
    ("weights", "coverage"),
    [([0.25, 0.25, 0.25, 0.25], 1.0), ([0.1, 0.2, 0.7], 1.0), ([0.5, 0.5], 0.3)],
)
def test_arm_proportions_over_100k_ids(weights: list[float], coverage: float) -> None:
    experiment = _experiment(len(weights), key="memory-policy-v1", weights=weights, coverage=coverage,
                             hash_version=2)
    n = 100_000
    counts = Counter(_arm_index(experiment, uid) for uid in _ids(n))
    # Binomial standard error at n=100k is at most 0.0016; 0.006 is ~4 of them.
    assert counts[None] / n == pytest.approx(1 - coverage, abs=0.006)
    for i, w in enumerate(weights):
        assert counts[i] / n == pytest.approx(w * coverage, abs=0.006), (i, counts)
    included = {str(i): counts[i] for i in range(len(weights))}
    assert not srm_test(included, {str(i): w for i, w in enumerate(weights)}).flagged


def test_srm_flags_a_skewed_split_and_not_a_fair_one() -> None:
    weights = {"a": 0.5, "b": 0.5}
    fair = srm_test({"a": 5040, "b": 4960}, weights)
    assert not fair.flagged and fair.p_value > 0.4
    skewed = srm_test({"a": 5300, "b": 4700}, weights)
    assert skewed.flagged and skewed.p_value < 1e-6
    assert skewed.expected == {"a": 5000.0, "b": 5000.0}
    uneven = srm_test({"a": 1010, "b": 8990}, {"a": 0.1, "b": 0.9})
    assert not uneven.flagged
    assert srm_test({"a": 0, "b": 0}, weights).p_value is None  # nothing to test yet
    assert srm_test({"a": 10, "b": 10, "gone": 3}, weights).flagged  # users in an arm that should not exist
    assert srm_test({"a": 10, "b": 0}, {"a": 1.0, "b": 0.0}).flagged is False
