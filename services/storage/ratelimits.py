"""The HTTP API's per-caller request counts, shared by every API instance."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.storage.errors import mongo_errors
from services.storage.expiring import Expiring
from services.storage.upsert import replace_by_id

__all__ = ["RATE_LIMITS", "MongoRateLimits"]

Raw = dict[str, Any]
RATE_LIMITS = "rate_limits"


class MongoRateLimits:
    """The `RateLimitStore` port: one small document per caller, expiring by a TTL index on
    MongoDB. FerretDB 1.x has no TTL indexes: there expired documents are deleted by a sweep
    every ten minutes. Reads and writes are not one atomic step, so two instances counting
    the same caller at the same instant may both admit a request near the limit."""

    def __init__(self, db: AsyncDatabase[Raw]) -> None:
        self._coll = db[RATE_LIMITS]
        self._expiring = Expiring(self._coll)

    async def create_indexes(self) -> None:
        """The TTL index where the server has them."""
        async with mongo_errors():
            await self._expiring.create_index()

    async def load(self, caller: str) -> dict[str, float] | None:
        async with mongo_errors():
            raw = await self._coll.find_one({"_id": caller})
        if raw is None:
            return None
        return {k: float(raw[k]) for k in ("windowStart", "count", "lockedUntil") if k in raw}

    async def save(self, caller: str, state: dict[str, float], expire_at: float) -> None:
        body = {**state, "expireAt": datetime.fromtimestamp(expire_at, UTC)}
        async with mongo_errors():
            await replace_by_id(self._coll, caller, body)
            await self._expiring.sweep_if_due()
