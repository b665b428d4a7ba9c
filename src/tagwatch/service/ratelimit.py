"""In-process token buckets, keyed by a string (a username, an IP address, a device id).

Why not a library: `limits` (well kept) would do, but what is needed here is one token
bucket per key, checked synchronously from the service layer (the sign-in use case, the
device-secret check shared by the OsmAnd app, the batch upload and the TCP gateways) with
an injectable monotonic clock for tests; that is thirty lines, without a storage backend
to configure. The limits are per process: N API processes allow N times as much, which is
fine for their purpose (slowing down guessing and floods), not for billing.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

MAX_KEYS = 100_000  # bound the memory a flood of distinct keys can take


class RateLimited(Exception):  # noqa: N818 - says what happened
    """Too many requests for one key: `retry_after_s` says when to try again."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class TokenBuckets:
    """`burst` requests at once per key, refilled at `rate_per_s`."""

    def __init__(
        self,
        *,
        rate_per_s: float,
        burst: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")
        self.rate_per_s = rate_per_s
        self.burst = float(burst)
        self._monotonic = monotonic
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, as of)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take one token: 0.0 if there was one, else the seconds until there will be."""
        now = self._monotonic()
        with self._lock:
            tokens, since = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - since) * self.rate_per_s)
            if tokens >= 1.0:
                self._store(key, tokens - 1.0, now)
                return 0.0
            self._store(key, tokens, now)
            return (1.0 - tokens) / self.rate_per_s

    def _store(self, key: str, tokens: float, now: float) -> None:
        if len(self._buckets) >= MAX_KEYS and key not in self._buckets:
            # Full buckets carry no information: drop them first.
            full = now - self.burst / self.rate_per_s
            self._buckets = {k: v for k, v in self._buckets.items() if v[1] > full}
            if len(self._buckets) >= MAX_KEYS:
                self._buckets.clear()
        self._buckets[key] = (tokens, now)

    def check(self, key: str, what: str) -> None:
        """Take a token or raise RateLimited naming `what` was limited."""
        wait = self.take(key)
        if wait > 0:
            raise RateLimited(
                f"too many {what}: try again in {math.ceil(wait)} s", retry_after_s=wait
            )
