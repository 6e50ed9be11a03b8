"""Roster locks: one writer at a time per batch whose seats depend on one another."""

from __future__ import annotations

import time
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.storage.errors import mongo_errors
from services.storage.guarded import GuardedWrites
from services.storage.revisions import next_rev

__all__ = ["ROSTER_LOCKS", "MongoRosterLocks"]

Raw = dict[str, Any]
ROSTER_LOCKS = "roster_locks"


class MongoRosterLocks:
    """The `RosterLocks` port: `{_id: batchId, holder, until, rev}`, taken by guarded writes
    (a compare-and-set on `rev`; on FerretDB made atomic by the revision guard). `until` is
    the machine's time (a lease), not the service's business clock."""

    def __init__(self, db: AsyncDatabase[Raw], guarded: GuardedWrites) -> None:
        self._coll = db[ROSTER_LOCKS]
        self._guarded = guarded

    async def acquire(self, batch_id: str, holder: str, ttl_s: float) -> bool:
        now = time.time()
        async with mongo_errors():
            raw = await self._coll.find_one({"_id": batch_id})
        fields = {"holder": holder, "until": now + ttl_s}
        if raw is None:
            async with mongo_errors():
                try:
                    await self._coll.insert_one({"_id": batch_id, **fields, "rev": next_rev(None)})
                except DuplicateKeyError:
                    return False
            return True
        if raw.get("holder") != holder and raw.get("until", 0) > now:
            return False
        fields["rev"] = next_rev(raw.get("rev"))
        return await self._guarded.set_if_current(self._coll, batch_id, raw.get("rev"), fields)

    async def release(self, batch_id: str, holder: str) -> None:
        async with mongo_errors():
            raw = await self._coll.find_one({"_id": batch_id})
        if raw is None or raw.get("holder") != holder:
            return
        fields = {"holder": None, "until": 0.0, "rev": next_rev(raw.get("rev"))}
        await self._guarded.set_if_current(self._coll, batch_id, raw.get("rev"), fields)
