"""Whole-collection operations for operators' tools: dump (for reports) and replace (swap)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from bson.raw_bson import RawBSONDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, OperationFailure

from services.storage.encoding import packed, unpacked
from services.storage.errors import is_revision_conflict, mongo_errors
from services.storage.guarded import GuardedWrites
from services.storage.revisions import next_rev, until_written
from services.storage.upsert import replace_by_id

__all__ = ["MongoMaintenance"]

_META = "service_meta"
_ENCODED_CHUNK = 500  # documents per insert command of a bulk load
_DUPLICATE_KEY = 11000

Raw = dict[str, Any]


class MongoMaintenance:
    """The `MaintenanceStore` port."""

    def __init__(
        self, db: AsyncDatabase[Raw], chunk: int, guarded: GuardedWrites, pack_facts: bool = True
    ) -> None:
        self._db = db
        self._pack_facts = pack_facts  # how `replace_all` stores an enrolment's facts
        self._chunk = chunk
        self._guarded = guarded

    async def dump(self, collection: str) -> dict[str, Raw]:
        async with mongo_errors():
            return {raw["_id"]: unpacked(raw) async for raw in self._db[collection].find({})}

    async def replace_all(self, collection: str, docs: Iterable[Raw]) -> int:
        docs = [packed(dict(doc)) if self._pack_facts else dict(doc) for doc in docs]
        async with mongo_errors():
            await self._db[collection].delete_many({})
            for start in range(0, len(docs), self._chunk):
                await self._db[collection].insert_many(docs[start : start + self._chunk])
        return len(docs)

    async def insert_encoded(self, collection: str, documents: Sequence[bytes]) -> int:
        inserted = 0
        async with mongo_errors():
            for start in range(0, len(documents), _ENCODED_CHUNK):
                chunk = [RawBSONDocument(d) for d in documents[start : start + _ENCODED_CHUNK]]
                try:
                    await self._db[collection].insert_many(chunk, ordered=False)
                    inserted += len(chunk)
                except BulkWriteError as exc:  # a resumed load: what exists stays as it is
                    if any(e.get("code") != _DUPLICATE_KEY for e in exc.details["writeErrors"]):
                        raise
                    inserted += exc.details.get("nInserted", 0)
        return inserted

    async def legacy_applied_offsets(self) -> dict[str, dict[int, int]]:
        found: dict[str, dict[int, int]] = {}
        query = {"appliedOffsets": {"$exists": True}}
        async with mongo_errors():
            async for raw in self._db["batches"].find(query, {"appliedOffsets": 1}):
                offsets = raw.get("appliedOffsets") or {}
                found[raw["_id"]] = {int(p): int(o) for p, o in offsets.items()}
        return found

    async def forget_legacy_applied_offsets(self, batch_ids: Iterable[str]) -> None:
        batches = self._db["batches"]
        for batch_id in batch_ids:

            async def attempt(batch_id: str = batch_id) -> bool:
                async with mongo_errors():
                    raw = await batches.find_one({"_id": batch_id}, {"rev": 1})
                    if raw is None:
                        return True
                    rev = next_rev(raw.get("rev"))
                    try:
                        await batches.update_one(
                            {"_id": batch_id, "rev": raw.get("rev")},
                            {"$unset": {"appliedOffsets": ""}, "$set": {"rev": rev}},
                        )
                    except OperationFailure as exc:
                        if is_revision_conflict(exc):
                            return False
                        raise
                return (await self._guarded.stored_revs(batches, [batch_id])).get(batch_id) == rev

            await until_written(attempt, f"batch {batch_id!r}")

    async def schema_version(self) -> str | None:
        async with mongo_errors():
            raw = await self._db[_META].find_one({"_id": "schema"})
        return raw.get("version") if raw else None

    async def set_schema_version(self, version: str) -> None:
        async with mongo_errors():
            await replace_by_id(self._db[_META], "schema", {"version": version})

    async def all_batch_ids(self) -> list[str]:
        async with mongo_errors():
            return [raw["_id"] async for raw in self._db["batches"].find({}, {"_id": 1})]

    async def ping(self) -> None:
        async with mongo_errors():
            await self._db.command("ping")
