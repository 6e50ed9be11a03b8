"""Whole-collection operations for operators' tools: dump (for reports) and replace (swap)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.storage.errors import mongo_errors

__all__ = ["MongoMaintenance"]

Raw = dict[str, Any]


class MongoMaintenance:
    """The `MaintenanceStore` port."""

    def __init__(self, db: AsyncDatabase[Raw], chunk: int) -> None:
        self._db = db
        self._chunk = chunk

    async def dump(self, collection: str) -> dict[str, Raw]:
        async with mongo_errors():
            return {raw["_id"]: raw async for raw in self._db[collection].find({})}

    async def replace_all(self, collection: str, docs: Iterable[Raw]) -> int:
        docs = list(docs)
        async with mongo_errors():
            await self._db[collection].delete_many({})
            for start in range(0, len(docs), self._chunk):
                await self._db[collection].insert_many(docs[start : start + self._chunk])
        return len(docs)
