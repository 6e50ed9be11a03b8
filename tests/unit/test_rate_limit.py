"""The API's rate limit (contract 9: 30 requests a minute per caller, then a 5-minute lock),
on a clock the test moves."""

from __future__ import annotations

import pytest

from api.problems import Problem
from api.ratelimit import RateLimiter
from services.storage import InMemoryRateLimits


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def _calls(limiter: RateLimiter, caller: str, n: int) -> None:
    for _ in range(n):
        await limiter.check(caller)


async def test_the_31st_call_in_a_minute_is_refused_and_the_lock_outlasts_the_window() -> None:
    clock = FakeClock()
    limiter = RateLimiter(InMemoryRateLimits(), 30, 300, clock=clock)
    await _calls(limiter, "ada", 30)
    with pytest.raises(Problem) as refused:
        await limiter.check("ada")
    assert refused.value.status == 429 and refused.value.headers["Retry-After"] == "300"
    await _calls(limiter, "alan", 30)  # another caller is counted apart
    clock.now += 61  # a new minute: the lock holds regardless
    with pytest.raises(Problem) as still:
        await limiter.check("ada")
    assert still.value.headers["Retry-After"] == "239"
    clock.now += 239  # the lock has run out
    await _calls(limiter, "ada", 30)


async def test_calls_spread_over_minutes_are_never_refused() -> None:
    clock = FakeClock()
    limiter = RateLimiter(InMemoryRateLimits(), 30, 300, clock=clock)
    for _ in range(5):
        await _calls(limiter, "ada", 30)
        clock.now += 60
