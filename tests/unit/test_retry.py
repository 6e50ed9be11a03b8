"""The retry policy: transient errors retried with backoff, bounded in time; after a stop, a
failing call still gets a short grace, so that a shutdown finishes and commits the batch in
hand through a blip (contract 6: finish the work in hand, commit, exit 0)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from services.errors import KafkaUnavailable, StoreUnavailable
from services.retry import RetryPolicy


def _failing(times: int, error: Exception) -> tuple[list[int], Callable[[], Awaitable[str]]]:
    calls: list[int] = []

    async def call() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise error
        return "done"

    return calls, call


async def test_a_transient_error_is_retried_until_the_call_succeeds() -> None:
    calls, call = _failing(3, StoreUnavailable("down"))
    policy = RetryPolicy(max_elapsed_s=30, backoff_max_s=0.01)
    assert await policy.run(call) == "done"
    assert len(calls) == 4


async def test_an_error_that_is_not_transient_is_raised_at_once() -> None:
    calls, call = _failing(1, ValueError("a bug"))
    with pytest.raises(ValueError):
        await RetryPolicy(max_elapsed_s=30, backoff_max_s=0.01).run(call)
    assert len(calls) == 1


async def test_after_a_stop_a_blip_is_still_retried_within_the_grace() -> None:
    stop = asyncio.Event()
    stop.set()
    calls, call = _failing(2, KafkaUnavailable("coordinator moved"))
    policy = RetryPolicy(max_elapsed_s=30, backoff_max_s=0.01, stop=stop, stop_grace_s=5)
    assert await policy.run(call) == "done"
    assert len(calls) == 3


async def test_after_a_stop_an_outage_is_given_up_once_the_grace_is_over() -> None:
    stop = asyncio.Event()
    stop.set()
    calls, call = _failing(10**9, KafkaUnavailable("down"))
    policy = RetryPolicy(max_elapsed_s=300, backoff_max_s=60, stop=stop, stop_grace_s=0.3)
    with pytest.raises(KafkaUnavailable):
        # Bounded by the grace, not by max_elapsed_s nor by a 60 s backoff sleep.
        await asyncio.wait_for(policy.run(call), 30)
    assert len(calls) >= 2


async def test_without_a_stop_the_policy_gives_up_after_max_elapsed() -> None:
    calls, call = _failing(10**9, StoreUnavailable("down"))
    policy = RetryPolicy(max_elapsed_s=0.2, backoff_max_s=0.01)
    with pytest.raises(StoreUnavailable):
        await asyncio.wait_for(policy.run(call), 30)
    assert len(calls) >= 2
