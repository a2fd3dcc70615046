"""A per-key write rate limit: token buckets in memory (one service instance's share)."""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from citytwin.errors import RateLimited


@dataclass
class TokenBuckets:
    """`per_minute` tokens a minute per key, up to a burst of as many; 0 turns it off."""

    per_minute: int
    clock: Callable[[], float] = time.monotonic
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # key: (tokens, at)

    def take(self, key: str) -> None:
        """Spend one token of `key`, or raise `RateLimited` with the seconds to wait."""
        if self.per_minute <= 0:
            return
        now, rate = self.clock(), self.per_minute / 60
        tokens, at = self.buckets.get(key, (float(self.per_minute), now))
        tokens = min(float(self.per_minute), tokens + (now - at) * rate)
        if tokens < 1:
            wait = math.ceil((1 - tokens) / rate)
            raise RateLimited(f"more than {self.per_minute} writes a minute from this key", wait)
        self.buckets[key] = (tokens - 1, now)
