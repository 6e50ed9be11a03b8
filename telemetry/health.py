"""What the probes read: when the consumer loop last did something, and whether it holds its
place in the group."""

from __future__ import annotations

import time

__all__ = ["Health"]


class Health:
    """Liveness is the consumer loop's heartbeat (each poll, each retry); readiness needs an
    assignment (possibly empty: a member beyond the partition count is a ready standby)."""

    def __init__(self, liveness_timeout_s: float) -> None:
        self.liveness_timeout_s = liveness_timeout_s
        self.consuming = False  # the loop runs: liveness follows its beat
        self.needs_partitions = False  # readiness waits for an assignment (`api` never does)
        self.assigned = False
        self._beat = time.monotonic()

    def beat(self) -> None:
        """The loop made progress (or polled and found nothing, or is retrying)."""
        self._beat = time.monotonic()

    def silent_for_s(self) -> float:
        return time.monotonic() - self._beat

    def alive(self) -> bool:
        return not self.consuming or self.silent_for_s() <= self.liveness_timeout_s
