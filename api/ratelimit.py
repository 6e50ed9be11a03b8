"""Per-caller rate limit: `per_minute` requests in a minute, then a lock of `lock_s` seconds,
answered 429 with `Retry-After` (Zoho People's: 30 a minute, then 5 minutes)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from api.problems import Problem
from services.ports import RateLimitStore

__all__ = ["RateLimiter"]

WINDOW_S = 60.0


class RateLimiter:
    """Counts each caller's requests in a window of a minute, in a store the API instances
    share (or this process's own)."""

    def __init__(
        self,
        store: RateLimitStore,
        per_minute: int,
        lock_s: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._limit = per_minute
        self._lock_s = lock_s
        self._clock = clock  # epoch seconds; tests pass their own

    async def check(self, caller: str) -> None:
        """Count one request; 429 when over the limit or locked."""
        now = self._clock()
        state = await self._store.load(caller) or {"windowStart": now, "count": 0.0}
        locked_until = state.get("lockedUntil", 0.0)
        if now < locked_until:
            raise _limited(locked_until - now)
        if now - state["windowStart"] >= WINDOW_S:
            state = {"windowStart": now, "count": 0.0}
        state["count"] += 1
        if state["count"] > self._limit:
            state["lockedUntil"] = now + self._lock_s
            await self._store.save(caller, state, state["lockedUntil"])
            raise _limited(self._lock_s)
        await self._store.save(caller, state, state["windowStart"] + WINDOW_S)


def _limited(retry_after_s: float) -> Problem:
    seconds = max(1, math.ceil(retry_after_s))
    return Problem(
        429,
        "rate-limited",
        f"too many requests: this caller is locked out for {seconds} s",
        headers={"Retry-After": str(seconds)},
    )
