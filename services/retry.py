"""Retries for what is transient: backoff with jitter, bounded in time, abandoned on stop."""

from __future__ import annotations

import asyncio
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

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run `call` until it succeeds; retry retriable errors, re-raise the rest.

        Gives up (re-raising the last error) after `max_elapsed_s`, or once `stop` is set.
        """
        stop = self.stop

        def stopping(state: RetryCallState) -> bool:
            return stop_after_delay(self.max_elapsed_s)(state) or (
                stop is not None and stop.is_set()
            )

        retrying = AsyncRetrying(
            retry=retry_if_exception(is_retriable),
            wait=wait_exponential_jitter(multiplier=0.2, max=self.backoff_max_s),
            stop=stopping,
            before_sleep=self.on_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await call()
        raise AssertionError("unreachable: tenacity re-raises when it stops")
