"""Token buckets per API key and per user, in process.

One process only: behind several replicas each keeps its own buckets, so the effective limit is
the per-process one times the number of replicas; a shared limit needs a shared store (Redis,
or a Postgres table), which this module's `take` would then call instead."""

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucket:
    """`per_minute` requests a minute on average, bursts up to `burst`; 0 per minute disables it."""

    def __init__(
        self, per_minute: float, burst: int, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(1, burst)
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 when allowed (a token is spent), else the seconds until a token is back."""
        if self.rate <= 0:
            return 0.0
        now = self._clock()
        with self._lock:
            bucket = self._buckets.pop(key, None) or _Bucket(float(self.burst), now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            self._buckets[key] = bucket  # most recently used last; the oldest are dropped first
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate


class RateLimited(Exception):
    """Answered as 429 with Retry-After."""

    def __init__(self, what: str, retry_after_s: float) -> None:
        super().__init__(f"rate limit exceeded for this {what}; retry after {math.ceil(retry_after_s)} s")
        self.retry_after_s = max(1, math.ceil(retry_after_s))
