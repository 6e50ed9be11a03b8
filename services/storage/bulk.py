"""Bulk writes in chunks, a few chunks in flight at once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

__all__ = ["DEFAULT_BULK_CHUNK", "BulkWriter"]

_DUPLICATE_KEY = 11000
# FerretDB 1.24 holds one backend connection per statement of a multi-statement `update`
# command until the command ends; past its pool size the server deadlocks itself. Bulk writes
# are therefore sent in commands of at most this many operations.
DEFAULT_BULK_CHUNK = 50


class BulkWriter:
    """Unordered bulk writes, `chunk` operations a command, `concurrency` commands at once."""

    def __init__(self, chunk: int = DEFAULT_BULK_CHUNK, concurrency: int = 1) -> None:
        self.chunk = chunk
        self._concurrency = concurrency

    async def write(self, coll: AsyncCollection[dict[str, Any]], writes: Sequence[Any]) -> set[int]:
        """Returns the positions of the writes that failed on a duplicate key (a lost insert
        race); any other error raises once every chunk has finished, so no write is left
        running behind it. Call inside the adapter's error translator."""
        gate = asyncio.Semaphore(self._concurrency)

        async def send(start: int) -> set[int]:
            async with gate:
                try:
                    await coll.bulk_write(list(writes[start : start + self.chunk]), ordered=False)
                except BulkWriteError as exc:
                    errors = exc.details["writeErrors"]
                    if any(e.get("code") != _DUPLICATE_KEY for e in errors):
                        raise
                    return {start + int(e["index"]) for e in errors}
            return set()

        results = await asyncio.gather(
            *map(send, range(0, len(writes), self.chunk)), return_exceptions=True
        )
        failed: set[int] = set()
        for result in results:
            if isinstance(result, BaseException):
                raise result
            failed |= result
        return failed
