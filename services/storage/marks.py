"""Marks: inserts with an id of their own, one per thing to do, deleted once it is done.

Inserts cannot race, and deleting exactly the marks seen keeps a mark made meanwhile for the
next sweep; a crash loses no mark. Used for batch counts (`count_marks`) and for batches whose
learners must be evaluated again (`refresh_marks`)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import Any

from pymongo import InsertOne
from pymongo.asynchronous.collection import AsyncCollection

from services.storage.bulk import BulkWriter
from services.storage.errors import mongo_errors

__all__ = ["MongoMarks"]

Raw = dict[str, Any]


class MongoMarks:
    """The `RefreshMarks` port (and the count store's marks) over one collection."""

    def __init__(self, coll: AsyncCollection[Raw], bulk: BulkWriter) -> None:
        self._coll = coll
        self._bulk = bulk

    async def mark(
        self, batch_ids: Iterable[str], owner: str = "", at: float | None = None
    ) -> list[str]:
        made = time.time() if at is None else at
        ids = {f"{b}\n{os.urandom(8).hex()}": b for b in set(batch_ids)}
        marks = [{"_id": i, "batchId": b, "owner": owner, "at": made} for i, b in ids.items()]
        async with mongo_errors():
            await self._bulk.write(self._coll, [InsertOne(m) for m in marks])
        return list(ids)

    async def pending(self, owner: str = "", older_than_s: float = 0.0) -> dict[str, list[str]]:
        cutoff = time.time() - older_than_s
        found: dict[str, list[str]] = {}
        async with mongo_errors():
            async for raw in self._coll.find({}):
                # A mark from before marks had an age (no `at`) is old.
                if raw.get("owner") == owner or raw.get("at", 0.0) <= cutoff:
                    found.setdefault(raw["batchId"], []).append(raw["_id"])
        return found

    async def clear(self, mark_ids: Iterable[str]) -> None:
        ids = list(mark_ids)
        if ids:
            async with mongo_errors():
                await self._coll.delete_many({"_id": {"$in": ids}})
