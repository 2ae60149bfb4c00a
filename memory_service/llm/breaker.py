"""Circuit breaker per backend: N consecutive failures open it for T seconds; then one
half-open probe decides whether it closes again or re-opens. Event-loop only, no locks."""

import time
from collections.abc import Callable


class CircuitBreaker:
    def __init__(self, failures: int, open_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = failures
        self.open_s = open_s
        self.clock = clock
        self.consecutive_failures = 0
        self.opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half_open" if self.clock() - self.opened_at >= self.open_s else "open"

    def allow(self) -> bool:
        """May a call go through now? In half-open state only one probe at a time."""
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._probing:
            self._probing = True
            return True
        return False

    def success(self) -> None:
        self.consecutive_failures = 0
        self.opened_at = None
        self._probing = False

    def failure(self) -> None:
        self.consecutive_failures += 1
        if self._probing or self.consecutive_failures >= self.threshold:
            self.opened_at = self.clock()
        self._probing = False
