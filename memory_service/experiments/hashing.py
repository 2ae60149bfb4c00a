"""GrowthBook-compatible bucketing: the same hash, bucket ranges and variation choice as its SDKs.

Matching GrowthBook exactly means a team can move an experiment between this service and
GrowthBook (or analyse it there) without users changing arms."""

from array import array
from collections.abc import Sequence

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193
_MASK = 0xFFFFFFFF

Range = tuple[float, float]


def fnv1a32(text: str) -> int:
    """32-bit FNV-1a over UTF-16 code units, as JavaScript's charCodeAt sees the string
    (identical to code points for every character below U+10000)."""
    # ASCII bytes are their own UTF-16 code units (the common case: ids, seeds, digits). Otherwise
    # "utf-16" encodes in native byte order after a 2-byte BOM, which is what array("H") reads.
    units = text.encode("ascii") if text.isascii() else array("H", text.encode("utf-16")[2:])
    hval = _FNV_OFFSET
    for unit in units:
        hval = ((hval ^ unit) * _FNV_PRIME) & _MASK
    return hval


def gb_hash(seed: str, value: str, version: int) -> float | None:
    """A number in [0, 1) for this value; None for an unknown hash version, as in GrowthBook.

    Version 1 is GrowthBook's original (biased) hash, version 2 its unbiased one."""
    if version == 2:
        return (fnv1a32(str(fnv1a32(seed + value))) % 10000) / 10000
    if version == 1:
        return (fnv1a32(value + seed) % 1000) / 1000
    return None


def equal_weights(n: int) -> list[float]:
    return [1 / n] * n if n > 0 else []


def bucket_ranges(n: int, coverage: float = 1.0, weights: Sequence[float] | None = None) -> list[Range]:
    """GrowthBook's getBucketRanges: each arm gets [start, start + coverage * weight) inside its
    weight's slice, so lowering coverage never moves an included user to another arm.

    Out-of-range coverage is clamped and unusable weights fall back to equal ones, exactly as the
    SDK does; our config loader rejects such input before it gets here."""
    coverage = min(max(coverage, 0.0), 1.0)
    equal = equal_weights(n)
    chosen = list(weights) if weights is not None else equal
    if len(chosen) != n or not 0.99 <= sum(chosen) <= 1.01:
        chosen = equal
    ranges: list[Range] = []
    cumulative = 0.0
    for w in chosen:
        start = cumulative
        cumulative += w
        ranges.append((start, start + coverage * w))
    return ranges


def choose_variation(n: float, ranges: Sequence[Range]) -> int:
    """Index of the range holding n, or -1 (outside coverage)."""
    for i, (start, end) in enumerate(ranges):
        if start <= n < end:
            return i
    return -1
