"""The HTTP API's idempotency keys: the events a keyed command was first answered with."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.storage.errors import mongo_errors
from services.storage.expiring import Expiring

__all__ = ["IDEMPOTENCY_KEYS", "MongoIdempotency"]

Raw = dict[str, Any]
IDEMPOTENCY_KEYS = "idempotency_keys"


class MongoIdempotency:
    """The `IdempotencyStore` port: one document per (caller, key), kept until `expireAt`;
    the first command to insert it wins, so two instances answering the same retry at once
    keep the same events."""

    def __init__(self, db: AsyncDatabase[Raw]) -> None:
        self._coll = db[IDEMPOTENCY_KEYS]
        self._expiring = Expiring(self._coll)

    async def create_indexes(self) -> None:
        async with mongo_errors():
            await self._expiring.create_index()

    async def claim(
        self, key: str, request: str, events: list[dict[str, Any]], expire_at: float
    ) -> tuple[str, list[dict[str, Any]]]:
        body = {
            "_id": key,
            "request": request,
            "events": events,
            "expireAt": datetime.fromtimestamp(expire_at, UTC),
        }
        async with mongo_errors():
            try:
                await self._coll.insert_one(body)
                await self._expiring.sweep_if_due()
                return request, events
            except DuplicateKeyError:
                kept = await self._coll.find_one({"_id": key})
        if kept is None:  # expired between the two: this command is the first again
            return await self.claim(key, request, events, expire_at)
        return str(kept["request"]), list(kept["events"])
