"""Micro-batching and back-off, as pure state: the caller passes the clock in."""

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class Batcher(Generic[T]):
    """Messages in arrival order; a batch is due at `size` messages or `wait` s after its first."""

    size: int
    wait: float
    _pending: deque[tuple[float, T]] = field(default_factory=deque)

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, item: T, now: float) -> None:
        """Hold one more message, received at `now`."""
        self._pending.append((now, item))

    def deadline(self) -> float | None:
        """When the oldest held message's batch is due (None when nothing is held)."""
        return self._pending[0][0] + self.wait if self._pending else None

    def ready(self, now: float) -> bool:
        """Whether a batch is due: `size` messages held, or the oldest held for `wait` s."""
        deadline = self.deadline()
        return len(self._pending) >= self.size or (deadline is not None and now >= deadline)

    def take(self) -> list[T]:
        """The next batch: up to `size` of the oldest messages."""
        count = min(self.size, len(self._pending))
        return [self._pending.popleft()[1] for _ in range(count)]

    def discard(self, unwanted: Callable[[T], bool]) -> list[T]:
        """Drop (and return) the held messages `unwanted` picks, e.g. those sent again."""
        dropped = [item for _, item in self._pending if unwanted(item)]
        if dropped:
            self._pending = deque(entry for entry in self._pending if not unwanted(entry[1]))
        return dropped


@dataclass
class Backoff:
    """Exponential back-off: `first`, doubling, at most `limit` seconds; `reset` on success."""

    first: float = 0.25
    limit: float = 8.0
    attempts: int = 0

    def next_delay(self) -> float:
        """The wait before the next attempt."""
        delay = min(self.limit, self.first * 2**self.attempts)
        self.attempts += 1
        return delay

    def reset(self) -> None:
        """Start again from `first` (the last attempt succeeded)."""
        self.attempts = 0
