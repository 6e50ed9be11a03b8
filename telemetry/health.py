"""What the probes read: when the consumer loop last did something, whether the clock's work
is stuck in a tick, and whether the process holds its place in the group."""

from __future__ import annotations

import time

__all__ = ["Health"]


class Health:
    """Liveness is the consumer loop's heartbeat (each poll, each retry) and the clock's work
    not hanging in one attempt of a tick (it runs beside the loop: a tick that never returns
    would leave every batch's status stale with the loop still beating); readiness needs an
    assignment (possibly empty: a member beyond the partition count is a ready standby)."""

    def __init__(self, liveness_timeout_s: float) -> None:
        self.liveness_timeout_s = liveness_timeout_s
        self.consuming = False  # the loop runs: liveness follows its beat
        self.needs_partitions = False  # readiness waits for an assignment (`api` never does)
        self.assigned = False
        self._beat = time.monotonic()
        self._tick_since: float | None = None  # an attempt of the clock's work runs since

    def beat(self) -> None:
        """The loop made progress (or polled and found nothing, or is retrying)."""
        self._beat = time.monotonic()

    def silent_for_s(self) -> float:
        return time.monotonic() - self._beat

    def tick_started(self) -> None:
        """An attempt of the clock's work begins (a retry begins a new one)."""
        self._tick_since = time.monotonic()

    def tick_ended(self) -> None:
        """That attempt returned or raised."""
        self._tick_since = None

    def tick_running_for_s(self) -> float:
        """How long the clock's attempt in progress has run (0 between ticks)."""
        since = self._tick_since
        return 0.0 if since is None else time.monotonic() - since

    def alive(self) -> bool:
        if not self.consuming:
            return True
        timeout = self.liveness_timeout_s
        return self.silent_for_s() <= timeout and self.tick_running_for_s() <= timeout
