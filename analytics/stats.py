"""Statistics a data scientist can check by hand: Wilson intervals for rates, and the relative-lift
z-test of GrowthBook's frequentist engine (unpooled, delta-method variance, two-sided)."""

import math
from dataclasses import dataclass

Z95 = 1.959963984540054  # two-sided 95%


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float | None, float | None]:
    """Wilson score interval: stays inside [0, 1] and behaves at rates near 0 or 1 and small n."""
    if n == 0:
        return None, None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class LiftTest:
    lift: float | None  # (p_treatment - p_control) / p_control
    ci_low: float | None
    ci_high: float | None
    p_value: float | None


def relative_lift_test(
    control_successes: int, control_n: int, treatment_successes: int, treatment_n: int, z: float = Z95
) -> LiftTest:
    """GrowthBook gbstats TwoSidedTTest with relative=True on proportion metrics:
    var = p(1-p) per arm (unpooled), Var(lift) = var_t/(p_c^2 n_t) + var_c p_t^2/(p_c^4 n_c),
    p = 2 (1 - Phi(|lift| / se)). GrowthBook uses a Welch t quantile, which equals the normal
    one to three decimals beyond a few hundred users per arm; this uses the normal (z) test."""
    if control_n == 0 or treatment_n == 0:
        return LiftTest(None, None, None, None)
    p_c = control_successes / control_n
    p_t = treatment_successes / treatment_n
    if p_c == 0:
        return LiftTest(None, None, None, None)
    lift = (p_t - p_c) / p_c
    variance = p_t * (1 - p_t) / (p_c**2 * treatment_n) + p_c * (1 - p_c) * p_t**2 / (p_c**4 * control_n)
    if variance == 0:
        return LiftTest(lift, lift, lift, None)
    se = math.sqrt(variance)
    return LiftTest(lift, lift - z * se, lift + z * se, 2 * normal_sf(abs(lift) / se))
