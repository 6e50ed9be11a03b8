"""Roster fences: one revision per batch whose seats depend on one another."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.storage.errors import mongo_errors
from services.storage.guarded import GuardedWrites
from services.storage.revisions import next_rev

__all__ = ["ROSTER_FENCES", "MongoRosterFences"]

Raw = dict[str, Any]
ROSTER_FENCES = "roster_fences"


class MongoRosterFences:
    """The `RosterFences` port: `{_id: batchId, rev}`, advanced by guarded writes."""

    def __init__(self, db: AsyncDatabase[Raw], guarded: GuardedWrites) -> None:
        self._coll = db[ROSTER_FENCES]
        self._guarded = guarded

    async def read(self, batch_id: str) -> str | None:
        return (await self._guarded.stored_revs(self._coll, [batch_id])).get(batch_id)

    async def advance(self, batch_id: str, seen: str | None) -> bool:
        rev = next_rev(seen)
        if seen is None:
            async with mongo_errors():
                try:
                    await self._coll.insert_one({"_id": batch_id, "rev": rev})
                except DuplicateKeyError:
                    return False
            return True
        return await self._guarded.set_if_current(self._coll, batch_id, seen, {"rev": rev})
