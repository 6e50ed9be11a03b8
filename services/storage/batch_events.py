"""Which events of `lms.batch.v1` each batch applied, or refused: "already applied" is a
property of the event (its id), never of where it sat in one cluster's log."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from schemas.documents import batch_event_key
from services.storage.errors import mongo_errors
from services.storage.guarded import GuardedWrites

__all__ = ["BATCH_EVENTS_COLLECTION", "MongoBatchEventLog"]

Raw = dict[str, Any]
BATCH_EVENTS_COLLECTION = "batch_events"  # one document per event of lms.batch.v1 a batch applied


class MongoBatchEventLog:
    """The batch-event part of the `DocumentStore` port: one small document per event."""

    _guarded: GuardedWrites
    batch_events: AsyncCollection[Raw]

    async def applied_batch_events(self, batch_id: str, event_ids: Iterable[str]) -> set[str]:
        keys = {batch_event_key(batch_id, e): e for e in event_ids}
        async with mongo_errors():
            found = await self._guarded.lookup.by_ids(self.batch_events, keys, {"_id": 1})
        return {keys[raw["_id"]] for raw in found}

    async def rejected_batch_events(self, batch_id: str, event_ids: Iterable[str]) -> set[str]:
        keys = {batch_event_key(batch_id, e): e for e in event_ids}
        async with mongo_errors():
            found = await self._guarded.lookup.by_ids(self.batch_events, keys, {"rejected": 1})
        return {keys[raw["_id"]] for raw in found if raw.get("rejected")}

    async def remember_batch_events(
        self, batch_id: str, event_ids: Iterable[str], rejected: Collection[str] = ()
    ) -> None:
        writes = [
            UpdateOne(
                {"_id": batch_event_key(batch_id, e)},
                {"$set": {"batchId": batch_id, "eventId": e, "rejected": e in rejected}},
                upsert=True,
            )
            for e in dict.fromkeys(event_ids)
        ]
        async with mongo_errors():
            await self._guarded.bulk.write(self.batch_events, writes)
