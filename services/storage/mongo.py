"""MongoDB implementation of the Store, through PyMongo's AsyncMongoClient.

Only features that both MongoDB and FerretDB 1.x support are used: finds with `$in`, unique
and plain indexes, `insert`/`replace`/`$set` writes, unordered bulk writes, `count_documents`.
(FerretDB 1.24 silently ignores `$pull` with a condition and lacks `$cond`, so neither is used.)
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from pydantic import BaseModel
from pymongo import ASCENDING, AsyncMongoClient, InsertOne, ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure, PyMongoError

from schemas.documents import BatchDoc, CourseDoc, EnrolmentDoc
from services.errors import StoreUnavailable

__all__ = ["COLLECTIONS", "MongoStore", "translated"]

COLLECTIONS = ("batches", "courses", "enrolments")

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
_DUPLICATE_KEY = 11000
_CHUNK = 1000
# FerretDB 1.24 holds one backend connection per statement of a multi-statement `update`
# command until the command ends; past its pool size (100 on SQLite) the server deadlocks
# itself. Bulk writes are therefore sent in commands of at most this many operations.
DEFAULT_BULK_CHUNK = 50


@asynccontextmanager
async def translated() -> AsyncIterator[None]:
    """Driver errors become the service's errors: transient ones are retriable."""
    try:
        yield
    except OperationFailure as exc:
        transient = exc.timeout or exc.has_error_label("RetryableWriteError")
        if transient or exc.code in (50, 91, 189, 11600, 11602):
            raise StoreUnavailable(str(exc)) from exc
        raise
    except PyMongoError as exc:  # connection refused, timeouts, server selection, network
        raise StoreUnavailable(str(exc)) from exc


def _new_rev() -> str:
    return os.urandom(8).hex()


class MongoStore:
    """Batches, courses and enrolments in one database; `rev` guards every replace."""

    def __init__(
        self, db: AsyncDatabase[dict[str, Any]], bulk_chunk: int = DEFAULT_BULK_CHUNK
    ) -> None:
        self._db = db
        self._bulk_chunk = bulk_chunk
        self.batches: AsyncCollection[dict[str, Any]] = db["batches"]
        self.courses: AsyncCollection[dict[str, Any]] = db["courses"]
        self.enrolments: AsyncCollection[dict[str, Any]] = db["enrolments"]

    @classmethod
    def connect(
        cls,
        uri: str,
        db_name: str,
        *,
        timeout_ms: int = 30_000,
        bulk_chunk: int = DEFAULT_BULK_CHUNK,
    ) -> tuple[AsyncMongoClient[dict[str, Any]], MongoStore]:
        """A client (timezone-aware datetimes) and a store over its database.

        Every operation is bounded by `timeout_ms`, so a server that stops answering becomes a
        retriable error (and a stop request is honoured) rather than a hang.
        """
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            uri,
            tz_aware=True,
            serverSelectionTimeoutMS=min(5000, timeout_ms),
            timeoutMS=timeout_ms,
            appname="batch-service",
        )
        return client, cls(client[db_name], bulk_chunk)

    async def create_indexes(self) -> None:
        """The unique (batchId, userId) index of the contract, and those the queries need."""
        async with translated():
            await self.enrolments.create_index(
                [("batchId", ASCENDING), ("userId", ASCENDING)], unique=True
            )
            await self.enrolments.create_index([("hasOutbox", ASCENDING)])
            await self.batches.create_index([("courseId", ASCENDING)])

    async def get_courses(self, ids: Iterable[str]) -> dict[str, CourseDoc]:
        return {d.courseId: d for d in await self._find(self.courses, CourseDoc, ids)}

    async def get_batches(self, ids: Iterable[str]) -> dict[str, BatchDoc]:
        return {d.batchId: d for d in await self._find(self.batches, BatchDoc, ids)}

    async def get_enrolments(self, keys: Iterable[str]) -> dict[str, EnrolmentDoc]:
        return {d.key: d for d in await self._find(self.enrolments, EnrolmentDoc, keys)}

    async def enrolments_of_batch(self, batch_id: str) -> list[EnrolmentDoc]:
        async with translated():
            cursor = self.enrolments.find({"batchId": batch_id})
            return [EnrolmentDoc.model_validate(raw) async for raw in cursor]

    async def batch_ids_of_course(self, course_id: str) -> list[str]:
        async with translated():
            cursor = self.batches.find({"courseId": course_id}, {"_id": 1})
            return [raw["_id"] async for raw in cursor]

    async def save_course(self, doc: CourseDoc) -> bool:
        return await self._save_one(self.courses, doc.courseId, doc)

    async def save_batch(self, doc: BatchDoc) -> bool:
        # Counts are the store's to write (recount); a batch event never overwrites them.
        return await self._save_one(self.batches, doc.batchId, doc, keep=_COUNTS)

    async def save_enrolments(self, docs: Sequence[EnrolmentDoc]) -> set[str]:
        if not docs:
            return set()
        writes: list[InsertOne[dict[str, Any]] | ReplaceOne[dict[str, Any]]] = []
        bodies: dict[str, str] = {}
        for doc in docs:
            body = _body(doc, doc.key)
            body["hasOutbox"] = bool(doc.outbox)
            bodies[doc.key] = body["rev"]
            if doc.rev is None:
                writes.append(InsertOne(body))
            else:
                writes.append(ReplaceOne({"_id": doc.key, "rev": doc.rev}, body))
        async with translated():
            for start in range(0, len(writes), self._bulk_chunk):
                try:
                    chunk = writes[start : start + self._bulk_chunk]
                    await self.enrolments.bulk_write(chunk, ordered=False)
                except BulkWriteError as exc:
                    if any(e.get("code") != _DUPLICATE_KEY for e in exc.details["writeErrors"]):
                        raise
            # Which writes lost a race: those whose document does not carry our new rev.
            cursor = self.enrolments.find({"_id": {"$in": list(bodies)}}, {"rev": 1})
            current = {raw["_id"]: raw.get("rev") async for raw in cursor}
        return {key for key, rev in bodies.items() if current.get(key) != rev}

    async def mark_counts_stale(self, batch_ids: Iterable[str]) -> None:
        """Note that these batches' counts need a recount (persisted, so a crash loses nothing)."""
        ids = list(set(batch_ids))
        if ids:
            async with translated():
                await self.batches.update_many(
                    {"_id": {"$in": ids}}, {"$set": {"countsStale": _new_rev()}}
                )

    async def recount_stale(self) -> int:
        """Recount every batch marked stale; returns how many. A mark set while counting (a
        write by another instance) has a new token, so it survives for the next recount."""
        async with translated():
            cursor = self.batches.find({"countsStale": {"$ne": None}}, {"countsStale": 1})
            marked = [(raw["_id"], raw["countsStale"]) async for raw in cursor]
            for batch_id, token in marked:
                counts = await self._counts(batch_id)
                await self.batches.update_one(
                    {"_id": batch_id, "countsStale": token},
                    {"$set": {**counts, "countsStale": None}},
                )
        return len(marked)

    async def _counts(self, batch_id: str) -> dict[str, int]:
        count = self.enrolments.count_documents
        return {
            "enrolledCount": await count({"batchId": batch_id, "enrolled": True}),
            "completedCount": await count(
                {"batchId": batch_id, "enrolled": True, "progressStatus": 2}
            ),
            "certifiedCount": await count(
                {"batchId": batch_id, "certificates.0": {"$exists": True}}
            ),
        }

    async def pending_outbox(self, limit: int) -> list[EnrolmentDoc]:
        async with translated():
            cursor = self.enrolments.find({"hasOutbox": True}).limit(limit)
            return [EnrolmentDoc.model_validate(raw) async for raw in cursor]

    async def ack_outbox(self, key: str, event_ids: set[str]) -> None:
        async def attempt() -> bool:
            raw = await self.enrolments.find_one({"_id": key}, {"outbox": 1, "rev": 1})
            if raw is None:
                return True
            left = [e for e in raw.get("outbox", []) if e.get("id") not in event_ids]
            update = {"$set": {"outbox": left, "hasOutbox": bool(left), "rev": _new_rev()}}
            result = await self.enrolments.update_one({"_id": key, "rev": raw.get("rev")}, update)
            return result.matched_count == 1

        await _until(attempt)

    async def dump(self, collection: str) -> dict[str, dict[str, Any]]:
        """Every document of a collection by `_id` (for reports; loads it all in memory)."""
        async with translated():
            return {raw["_id"]: raw async for raw in self._db[collection].find({})}

    async def replace_all(self, collection: str, docs: Iterable[dict[str, Any]]) -> int:
        """Make the collection hold exactly these documents (not atomic: stop writers first)."""
        docs = list(docs)
        async with translated():
            await self._db[collection].delete_many({})
            for start in range(0, len(docs), self._bulk_chunk):
                await self._db[collection].insert_many(docs[start : start + self._bulk_chunk])
        return len(docs)

    async def save_checkpoint(self, name: str, state: dict[str, Any]) -> None:
        """Remember how far a replay got (in the database it writes to)."""
        async with translated():
            await self._db["replay_checkpoints"].replace_one({"_id": name}, state, upsert=True)

    async def load_checkpoint(self, name: str) -> dict[str, Any] | None:
        """What `save_checkpoint` stored, if anything."""
        async with translated():
            return await self._db["replay_checkpoints"].find_one({"_id": name})

    async def drop_checkpoint(self, name: str) -> None:
        """Forget a finished replay."""
        async with translated():
            await self._db["replay_checkpoints"].delete_one({"_id": name})

    async def _find(
        self, coll: AsyncCollection[dict[str, Any]], model: type[M], ids: Iterable[str]
    ) -> list[M]:
        wanted = list(dict.fromkeys(ids))
        found: list[M] = []
        async with translated():
            for start in range(0, len(wanted), _CHUNK):
                cursor = coll.find({"_id": {"$in": wanted[start : start + _CHUNK]}})
                found += [model.model_validate(raw) async for raw in cursor]
        return found

    async def _save_one(
        self,
        coll: AsyncCollection[dict[str, Any]],
        key: str,
        doc: BaseModel,
        keep: tuple[str, ...] = (),
    ) -> bool:
        rev = getattr(doc, "rev", None)
        body = _body(doc, key, exclude=set(keep))
        async with translated():
            if rev is None:
                try:
                    await coll.insert_one(body)
                    return True
                except DuplicateKeyError:
                    return False
            result = await coll.update_one({"_id": key, "rev": rev}, {"$set": body})
            return result.matched_count == 1


_COUNTS = ("enrolledCount", "completedCount", "certifiedCount")


def _body(doc: BaseModel, key: str, exclude: set[str] | None = None) -> dict[str, Any]:
    body = doc.model_dump(exclude=exclude)
    body["_id"] = key
    body["rev"] = _new_rev()
    return body


async def _until(attempt: Callable[[], Awaitable[bool]], rounds: int = 50) -> None:
    async with translated():
        for _ in range(rounds):
            if await attempt():
                return
    raise StoreUnavailable("a document kept changing during an outbox acknowledgement")
