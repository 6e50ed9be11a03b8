"""How documents are found by `_id`: one `$in` query on MongoDB, point lookups on FerretDB.

MongoDB answers `{_id: {$in: [...]}}` from its index. FerretDB 1.x pushes no `$in` down and
reads the whole collection for it, so there the ids are looked up one by one (each an
indexed equality), several at a time. The server is asked once which it is (`buildInfo`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, Protocol

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

__all__ = ["DetectedLookup", "IdLookup", "InClauseLookup", "PointLookup"]

Raw = dict[str, Any]
_CHUNK = 1000
_POINT_LOOKUPS_IN_FLIGHT = 8


class IdLookup(Protocol):
    """A strategy for reading many documents by `_id` (a storage concern: it takes driver
    collections, so its Protocol lives here rather than in `services.ports`)."""

    async def by_ids(
        self, coll: AsyncCollection[Raw], ids: Iterable[str], projection: dict[str, int] | None
    ) -> list[Raw]: ...


class InClauseLookup:
    """`{_id: {$in: chunk}}`, a thousand ids a query (MongoDB)."""

    async def by_ids(
        self, coll: AsyncCollection[Raw], ids: Iterable[str], projection: dict[str, int] | None
    ) -> list[Raw]:
        wanted = list(dict.fromkeys(ids))
        found: list[Raw] = []
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            found += [raw async for raw in coll.find({"_id": {"$in": chunk}}, projection)]
        return found


class PointLookup:
    """One `find_one({_id})` per id, eight in flight (FerretDB 1.x)."""

    async def by_ids(
        self, coll: AsyncCollection[Raw], ids: Iterable[str], projection: dict[str, int] | None
    ) -> list[Raw]:
        gate = asyncio.Semaphore(_POINT_LOOKUPS_IN_FLIGHT)

        async def one(key: str) -> Raw | None:
            async with gate:
                return await coll.find_one({"_id": key}, projection)

        found = await asyncio.gather(*map(one, dict.fromkeys(ids)))
        return [raw for raw in found if raw is not None]


class DetectedLookup:
    """Asks the server what it is on first use, then keeps the strategy that suits it."""

    def __init__(self, db: AsyncDatabase[Raw]) -> None:
        self._db = db
        self._chosen: IdLookup | None = None

    async def is_ferretdb(self) -> bool:
        """Whether the server is FerretDB (its `buildInfo` has `ferretdbVersion`)."""
        info = await self._db.client.admin.command("buildInfo")
        return "ferretdbVersion" in info

    async def by_ids(
        self, coll: AsyncCollection[Raw], ids: Iterable[str], projection: dict[str, int] | None
    ) -> list[Raw]:
        wanted = list(ids)
        if not wanted:
            return []
        if self._chosen is None:
            self._chosen = PointLookup() if await self.is_ferretdb() else InClauseLookup()
        return await self._chosen.by_ids(coll, wanted, projection)
