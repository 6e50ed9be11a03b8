"""Which events of `lms.batch.v1` each batch applied, or refused: "already applied" is a
property of the event (its id), never of where it sat in one cluster's log."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from schemas.documents import batch_event_key
from services.storage.errors import mongo_errors
from services.storage.guarded import GuardedWrites

__all__ = ["BATCH_EVENTS_COLLECTION", "MongoBatchEventLog", "rejection_reason"]

Raw = dict[str, Any]
BATCH_EVENTS_COLLECTION = "batch_events"  # one document per event of lms.batch.v1 a batch applied
# What a rejection remembered before reasons were kept (`"rejected": true`) is sent again with.
_REASON_NOT_KEPT = "rejected when first folded (the reason was not kept)"


def rejection_reason(raw: Raw) -> str:
    """Why a remembered event was rejected: its `rejected` field holds the reason."""
    reason = raw.get("rejected")
    return reason if isinstance(reason, str) and reason else _REASON_NOT_KEPT


class MongoBatchEventLog:
    """The batch-event part of the `DocumentStore` port: one small document per event."""

    _guarded: GuardedWrites
    batch_events: AsyncCollection[Raw]

    async def applied_batch_events(self, batch_id: str, event_ids: Iterable[str]) -> set[str]:
        keys = {batch_event_key(batch_id, e): e for e in event_ids}
        async with mongo_errors():
            found = await self._guarded.lookup.by_ids(self.batch_events, keys, {"_id": 1})
        return {keys[raw["_id"]] for raw in found}

    async def rejected_batch_events(
        self, batch_id: str, event_ids: Iterable[str]
    ) -> dict[str, str]:
        keys = {batch_event_key(batch_id, e): e for e in event_ids}
        async with mongo_errors():
            found = await self._guarded.lookup.by_ids(self.batch_events, keys, {"rejected": 1})
        return {keys[raw["_id"]]: rejection_reason(raw) for raw in found if raw.get("rejected")}

    async def remember_batch_events(
        self, batch_id: str, event_ids: Iterable[str], rejected: Mapping[str, str] | None = None
    ) -> None:
        why = rejected or {}
        writes = [
            UpdateOne(
                {"_id": batch_event_key(batch_id, e)},
                {"$set": {"batchId": batch_id, "eventId": e, "rejected": why.get(e, False)}},
                upsert=True,
            )
            for e in dict.fromkeys(event_ids)
        ]
        async with mongo_errors():
            await self._guarded.bulk.write(self.batch_events, writes)
