"""Bulk writes in chunks, a few chunks in flight at once, and what their answers prove."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pymongo import InsertOne, ReplaceOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, OperationFailure

from services.storage.errors import is_revision_conflict

__all__ = ["DEFAULT_BULK_CHUNK", "DEFAULT_INSERT_CHUNK", "BulkOutcome", "BulkWriter"]

_DUPLICATE_KEY = 11000
# FerretDB 1.24 holds one backend connection per statement of a multi-statement `update`
# command until the command ends; past its pool size the server deadlocks itself. Bulk writes
# are therefore sent in commands of at most this many operations.
DEFAULT_BULK_CHUNK = 50
# An `insert` command is one statement whatever its size: new documents go in large ones.
DEFAULT_INSERT_CHUNK = 500


@dataclass(frozen=True)
class BulkOutcome:
    """Positions (in the writes given) of the inserts that lost to an existing `_id`, and of
    the writes whose answer does not prove they happened: read those back."""

    duplicates: set[int] = field(default_factory=set)
    unconfirmed: set[int] = field(default_factory=set)


class BulkWriter:
    """Unordered bulk writes, `chunk` operations a command, `concurrency` commands at once.

    `exact`: the server's answer to a conditional write is exact (MongoDB; FerretDB with the
    raising revision guard), so a chunk whose updates all matched needs no read-back. Without
    it (FerretDB with an older, silent guard) every conditional write is unconfirmed."""

    def __init__(
        self,
        chunk: int = DEFAULT_BULK_CHUNK,
        concurrency: int = 1,
        insert_chunk: int = DEFAULT_INSERT_CHUNK,
    ) -> None:
        self.chunk = chunk
        self.insert_chunk = insert_chunk
        self.exact = False  # set by the store once it has probed the server
        self._concurrency = concurrency

    async def write(
        self, coll: AsyncCollection[dict[str, Any]], writes: Sequence[Any]
    ) -> BulkOutcome:
        """Any error other than a lost insert race or a refused revision raises once every
        chunk has finished, so no write is left running behind it. Call inside the adapter's
        error translator."""
        gate = asyncio.Semaphore(self._concurrency)
        failed: list[BaseException] = []

        async def send(positions: list[int]) -> BulkOutcome:
            chunk = [writes[i] for i in positions]
            conditional = [i for i, w in enumerate(chunk) if isinstance(w, (ReplaceOne, UpdateOne))]
            async with gate:
                if failed:
                    # A server that failed one chunk is not sent the next: each would wait
                    # out its own timeout. The error is raised once all have finished.
                    return BulkOutcome()
                try:
                    result = await coll.bulk_write(chunk, ordered=False)
                except BulkWriteError as exc:
                    errors = exc.details["writeErrors"]
                    if any(e.get("code") != _DUPLICATE_KEY for e in errors):
                        failed.append(exc)
                        raise
                    matched = exc.details.get("nMatched", 0) + exc.details.get("nUpserted", 0)
                    duplicates = {positions[int(e["index"])] for e in errors}
                    unproven = self._unproven(positions, conditional, matched)
                    return BulkOutcome(duplicates, unproven)
                except OperationFailure as exc:
                    if not is_revision_conflict(exc):
                        failed.append(exc)
                        raise
                    # FerretDB stopped the command at a refused revision: the writes before it
                    # happened, those after it did not; which is which, only a read tells.
                    return BulkOutcome(unconfirmed=set(positions))
                except BaseException as exc:
                    failed.append(exc)
                    raise
            matched = result.matched_count + result.upserted_count
            return BulkOutcome(unconfirmed=self._unproven(positions, conditional, matched))

        results = await asyncio.gather(*map(send, self._chunks(writes)), return_exceptions=True)
        outcome = BulkOutcome()
        for result in results:
            if isinstance(result, BaseException):
                raise result
            outcome.duplicates.update(result.duplicates)
            outcome.unconfirmed.update(result.unconfirmed)
        return outcome

    def _chunks(self, writes: Sequence[Any]) -> list[list[int]]:
        """The positions of the writes, by command: plain inserts in large ones (one statement
        each on FerretDB too), conditional writes in commands of `chunk`."""
        inserts = [i for i, w in enumerate(writes) if isinstance(w, InsertOne)]
        others = [i for i, w in enumerate(writes) if not isinstance(w, InsertOne)]
        big, small = self.insert_chunk, self.chunk
        return [
            *(inserts[i : i + big] for i in range(0, len(inserts), big)),
            *(others[i : i + small] for i in range(0, len(others), small)),
        ]

    def _unproven(self, positions: list[int], conditional: list[int], matched: int) -> set[int]:
        if self.exact and matched == len(conditional):
            return set()
        return {positions[i] for i in conditional}
