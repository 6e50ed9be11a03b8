"""Documents that expire at their `expireAt`: a TTL index on MongoDB; FerretDB 1.x has none,
so there the expired ones are deleted by a sweep every ten minutes."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import OperationFailure

__all__ = ["Expiring"]

_NOT_IMPLEMENTED = 238
_SWEEP_EVERY_S = 600.0


class Expiring:
    """The expiry of one collection's documents (call inside the adapter's translator)."""

    def __init__(self, coll: AsyncCollection[dict[str, Any]]) -> None:
        self._coll = coll
        self._ttl_index: bool | None = None
        self._swept = 0.0

    async def create_index(self) -> None:
        """The TTL index where the server has them."""
        try:
            await self._coll.create_index([("expireAt", ASCENDING)], expireAfterSeconds=0)
            self._ttl_index = True
        except OperationFailure as exc:
            if exc.code != _NOT_IMPLEMENTED:
                raise
            self._ttl_index = False

    async def sweep_if_due(self) -> None:
        """Without a TTL index, delete the expired documents (at most every ten minutes)."""
        if self._ttl_index is False and time.time() - self._swept > _SWEEP_EVERY_S:
            self._swept = time.time()
            await self._coll.delete_many({"expireAt": {"$lt": datetime.now(UTC)}})
