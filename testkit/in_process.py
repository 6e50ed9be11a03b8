"""The service's consumer loop run inside the test's own event loop (for tests that hook or
read its parts directly, where a `ServiceProcess` would hide them)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from consumers.bootstrap import Service

__all__ = ["consuming"]


@contextlib.asynccontextmanager
async def consuming(service: Service, stop: asyncio.Event) -> AsyncIterator[None]:
    """The service's group member, folding until the block ends: then `stop` is set, the
    loop given 30 s to finish its poll, and the consumer closed."""
    loop = service.consumer_loop()
    await loop.start()
    task = asyncio.create_task(loop.run(stop))
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(task, 30)
        await loop.stop()
