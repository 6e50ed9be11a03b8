"""Retries for what is transient: backoff with jitter, bounded in time, abandoned on stop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_delay,
    wait_exponential_jitter,
)

__all__ = ["retry_transient"]

T = TypeVar("T")


def _retriable(exc: BaseException) -> bool:
    return bool(getattr(exc, "retriable", False))


async def retry_transient(
    call: Callable[[], Awaitable[T]],
    *,
    max_elapsed_s: float,
    backoff_max_s: float,
    stop: asyncio.Event | None = None,
    on_retry: Callable[[RetryCallState], None] | None = None,
) -> T:
    """Run `call` until it succeeds; retry errors marked retriable, re-raise the rest.

    Gives up (re-raising the last error) after `max_elapsed_s`, or once `stop` is set.
    """

    def stopping(state: RetryCallState) -> bool:
        return stop_after_delay(max_elapsed_s)(state) or (stop is not None and stop.is_set())

    retrying = AsyncRetrying(
        retry=retry_if_exception(_retriable),
        wait=wait_exponential_jitter(initial=0.2, max=backoff_max_s),
        stop=stopping,
        before_sleep=on_retry,
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            return await call()
    raise AssertionError("unreachable: tenacity re-raises when it stops")
