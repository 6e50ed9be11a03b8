"""Replay checkpoints: how far a replay got, in the database it writes to."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.storage.errors import mongo_errors
from services.storage.upsert import replace_by_id

__all__ = ["MongoCheckpoints"]

Raw = dict[str, Any]


class MongoCheckpoints:
    """The `CheckpointStore` port, in the `replay_checkpoints` collection."""

    def __init__(self, db: AsyncDatabase[Raw]) -> None:
        self._coll = db["replay_checkpoints"]

    async def save(self, name: str, state: dict[str, Any]) -> None:
        async with mongo_errors():
            await replace_by_id(self._coll, name, state)

    async def load(self, name: str) -> dict[str, Any] | None:
        async with mongo_errors():
            return await self._coll.find_one({"_id": name})

    async def drop(self, name: str) -> None:
        async with mongo_errors():
            await self._coll.delete_one({"_id": name})
