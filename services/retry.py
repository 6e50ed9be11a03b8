"""Retries for what is transient: backoff with jitter, bounded in time, and shortly after a stop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_delay,
    wait_exponential_jitter,
)

from services.errors import BatchServiceError

__all__ = ["RetryPolicy", "is_retriable"]

T = TypeVar("T")


def is_retriable(exc: BaseException) -> bool:
    """Only the service's own errors marked retriable: a raw driver error was not translated
    by its adapter, which is a bug to see, not to retry."""
    return isinstance(exc, BatchServiceError) and exc.retriable


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how patiently transient errors are retried (built once from Settings)."""

    max_elapsed_s: float
    backoff_max_s: float
    stop: asyncio.Event | None = None
    on_retry: Callable[[RetryCallState], None] | None = None
    # Once `stop` is set, a failing call is retried this much longer: a shutdown finishes the
    # batch in hand and commits it through a blip (a coordinator moving, a broker restarting),
    # and still ends soon when a dependency is down (exit 1; the batch is delivered again).
    stop_grace_s: float = 10.0

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run `call` until it succeeds; retry retriable errors, re-raise the rest.

        Gives up (re-raising the last error) after `max_elapsed_s`, or `stop_grace_s` after
        the first failure it sees with `stop` set.
        """
        stop, grace = self.stop, self.stop_grace_s
        stopped_at: float | None = None
        backoff = wait_exponential_jitter(multiplier=0.2, max=self.backoff_max_s)

        def stopping(state: RetryCallState) -> bool:
            nonlocal stopped_at
            if stop_after_delay(self.max_elapsed_s)(state):
                return True
            if stop is None or not stop.is_set():
                return False
            if stopped_at is None:
                stopped_at = time.monotonic()
            return time.monotonic() - stopped_at >= grace

        def waiting(state: RetryCallState) -> float:
            pause = backoff(state)
            if stopped_at is not None:  # no sleep past the grace
                pause = min(pause, max(0.0, stopped_at + grace - time.monotonic()))
            return pause

        retrying = AsyncRetrying(
            retry=retry_if_exception(is_retriable),
            wait=waiting,
            stop=stopping,
            before_sleep=self.on_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await call()
        raise AssertionError("unreachable: tenacity re-raises when it stops")
