"""MongoDB implementation of the Store, through PyMongo's AsyncMongoClient.

Only features that both MongoDB and FerretDB 1.x support are used: finds with `$in`, unique
and plain indexes, `insert`/`replace`/`$set` writes, unordered bulk writes, `count_documents`.
(FerretDB 1.24 silently ignores `$pull` with a condition and lacks `$cond`, so neither is used.)

Every write of a guarded document (batch, course, enrolment) is conditional on the `rev` it
read and writes the next revision, "<n+1>:<random>"; the write is then read back. On MongoDB
the condition is atomic. FerretDB 1.x checks it in a query before a separate write, so it is
made atomic by `devstack/ferretdb/rev_guard.sql` (PostgreSQL refuses a revision that is not
the stored one's successor); the read-back is how a writer learns that it lost.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from pydantic import BaseModel
from pymongo import ASCENDING, AsyncMongoClient, InsertOne, ReplaceOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure, PyMongoError

from schemas.documents import BatchDoc, CourseDoc, EnrolmentDoc
from services.errors import StoreUnavailable

__all__ = ["COLLECTIONS", "MongoStore", "translated"]

COLLECTIONS = ("batches", "courses", "enrolments")
COUNT_MARKS = "count_marks"

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
_DUPLICATE_KEY = 11000
_CHUNK = 1000
_POINT_LOOKUPS_IN_FLIGHT = 8
_ROUNDS = 50  # conditional writes tried before giving up (each round re-reads)
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


def next_rev(current: str | None) -> str:
    """The revision that follows `current`: its counter plus one, and a random part so that
    two writers of the same successor can tell whose write is stored."""
    counter, _, _ = (current or "").partition(":")
    following = int(counter) + 1 if counter.isdigit() and len(counter) <= 18 else 1
    return f"{following}:{os.urandom(8).hex()}"


class MongoStore:
    """Batches, courses and enrolments in one database; `rev` guards every replace."""

    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        bulk_chunk: int = DEFAULT_BULK_CHUNK,
        write_concurrency: int = 1,
    ) -> None:
        self._db = db
        self._bulk_chunk = bulk_chunk
        self._write_concurrency = write_concurrency
        self._lookup_by_point: bool | None = None  # decided on first use (see _by_ids)
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
        write_concurrency: int = 1,
        **client_options: Any,
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
            **client_options,
        )
        return client, cls(client[db_name], bulk_chunk, write_concurrency)

    async def create_indexes(self) -> None:
        """The unique (batchId, userId) index of the contract, and those the queries need."""
        async with translated():
            await self.enrolments.create_index(
                [("batchId", ASCENDING), ("userId", ASCENDING)], unique=True
            )
            await self.enrolments.create_index([("hasOutbox", ASCENDING)])
            await self.batches.create_index([("courseId", ASCENDING)])
            await self._db[COUNT_MARKS].create_index([("batchId", ASCENDING)])

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
        keys: list[str] = []
        replaced: dict[str, str] = {}  # key -> the revision our replace carries
        for doc in docs:
            body = _body(doc, doc.key)
            body["hasOutbox"] = bool(doc.outbox)
            keys.append(doc.key)
            if doc.rev is None:
                writes.append(InsertOne(body))
            else:
                writes.append(ReplaceOne({"_id": doc.key, "rev": doc.rev}, body))
                replaced[doc.key] = body["rev"]
        async with translated():
            # An insert fails atomically on the unique _id: its error names the lost race.
            lost = {keys[i] for i in await self._bulk(self.enrolments, writes)}
            # A replace may report success and still have lost (FerretDB): read back.
            current = await self._revs(self.enrolments, replaced)
        return lost | {key for key, rev in replaced.items() if current.get(key) != rev}

    async def mark_counts_stale(self, batch_ids: Iterable[str]) -> None:
        """Note that these batches' counts need a recount (persisted, so a crash loses nothing).

        A mark is an insert with an id of its own, never an update of the batch: inserts cannot
        race, and a recount deletes exactly the marks it saw, so a mark made meanwhile stays."""
        marks = [
            InsertOne({"_id": f"{b}\n{os.urandom(8).hex()}", "batchId": b}) for b in set(batch_ids)
        ]
        async with translated():
            await self._bulk(self._db[COUNT_MARKS], marks)

    async def recount_stale(self) -> int:
        """Recount every batch with a mark, then delete the marks seen; returns how many
        batches were recounted (a mark for a batch not created yet is just deleted)."""
        async with translated():
            marks: dict[str, list[str]] = {}
            async for raw in self._db[COUNT_MARKS].find({}):
                marks.setdefault(raw["batchId"], []).append(raw["_id"])
            existing = set(await self._revs(self.batches, marks))
        for batch_id, ids in marks.items():
            if batch_id in existing:
                await self._recount(batch_id)
            async with translated():
                await self._db[COUNT_MARKS].delete_many({"_id": {"$in": ids}})
        return len(existing)

    async def _recount(self, batch_id: str) -> None:
        counts = await self._counts(batch_id)

        async def attempt() -> bool:
            raw = await self.batches.find_one({"_id": batch_id}, {"rev": 1, **_COUNT_FIELDS})
            if raw is None or all(raw.get(name) == n for name, n in counts.items()):
                return True  # nothing to write: the revision stays as it is
            fields = {**counts, "rev": next_rev(raw.get("rev"))}
            return await self._set_if_current(self.batches, batch_id, raw.get("rev"), fields)

        await _until(attempt)

    async def _counts(self, batch_id: str) -> dict[str, int]:
        """The batch's counts from one query on `batchId` (an indexed equality on both servers;
        FerretDB 1.x would scan the collection for each `count_documents`)."""
        enrolled = completed = certified = 0
        fields = {"enrolled": 1, "progressStatus": 1, "certificates": 1}
        async with translated():
            async for raw in self.enrolments.find({"batchId": batch_id}, fields):
                active = raw.get("enrolled") is True
                enrolled += active
                completed += active and raw.get("progressStatus") == 2
                certified += bool(raw.get("certificates"))
        return {
            "enrolledCount": enrolled,
            "completedCount": completed,
            "certifiedCount": certified,
        }

    async def pending_outbox(self, limit: int) -> list[EnrolmentDoc]:
        async with translated():
            cursor = self.enrolments.find({"hasOutbox": True}).limit(limit)
            return [EnrolmentDoc.model_validate(raw) async for raw in cursor]

    async def ack_outbox(self, acks: Mapping[str, set[str]]) -> None:
        """Remove these published entries from these documents' outboxes, in a few round trips
        for all of them: read, write what is left with the next revision, read back. Documents
        that changed meanwhile are done again."""
        pending = dict(acks)
        for _ in range(_ROUNDS):
            if not pending:
                return
            writes: list[UpdateOne] = []
            revs: dict[str, str] = {}
            async with translated():
                for raw in await self._by_ids(self.enrolments, pending, {"outbox": 1, "rev": 1}):
                    outbox = raw.get("outbox", [])
                    left = [e for e in outbox if e.get("id") not in pending[raw["_id"]]]
                    if len(left) == len(outbox):
                        continue  # acknowledged already (by a relay, say)
                    revs[raw["_id"]] = rev = next_rev(raw.get("rev"))
                    update = {"$set": {"outbox": left, "hasOutbox": bool(left), "rev": rev}}
                    writes.append(UpdateOne({"_id": raw["_id"], "rev": raw.get("rev")}, update))
                await self._bulk(self.enrolments, writes)
                current = await self._revs(self.enrolments, revs)
            pending = {key: pending[key] for key, rev in revs.items() if current.get(key) != rev}
        raise StoreUnavailable("documents kept changing during an outbox acknowledgement")

    async def _bulk(self, coll: AsyncCollection[dict[str, Any]], writes: Sequence[Any]) -> set[int]:
        """Unordered bulk writes in chunks, `write_concurrency` chunks in flight at once.
        Returns the positions of the writes that failed on a duplicate key (a lost race);
        any other error raises once every chunk has finished, so no write is left running
        behind it."""
        gate = asyncio.Semaphore(self._write_concurrency)

        async def send(start: int) -> set[int]:
            async with gate:
                try:
                    await coll.bulk_write(list(writes[start : start + size]), ordered=False)
                except BulkWriteError as exc:
                    errors = exc.details["writeErrors"]
                    if any(e.get("code") != _DUPLICATE_KEY for e in errors):
                        raise
                    return {start + int(e["index"]) for e in errors}
            return set()

        size = self._bulk_chunk
        results = await asyncio.gather(
            *map(send, range(0, len(writes), size)), return_exceptions=True
        )
        failed: set[int] = set()
        for result in results:
            if isinstance(result, BaseException):
                raise result
            failed |= result
        return failed

    async def _revs(
        self, coll: AsyncCollection[dict[str, Any]], keys: Iterable[str]
    ) -> dict[str, str | None]:
        """The stored revision of each document that exists."""
        return {raw["_id"]: raw.get("rev") for raw in await self._by_ids(coll, keys, {"rev": 1})}

    async def _by_ids(
        self,
        coll: AsyncCollection[dict[str, Any]],
        ids: Iterable[str],
        projection: dict[str, int] | None = None,
    ) -> list[dict[str, Any]]:
        """The documents with these ids. MongoDB answers `{_id: {$in: [...]}}` from its index;
        FerretDB 1.x pushes no `$in` down and reads the whole collection for it, so there the
        ids are looked up one by one (each an indexed equality), several at a time."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return []
        if not await self._point_lookups():
            found: list[dict[str, Any]] = []
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                found += [raw async for raw in coll.find({"_id": {"$in": chunk}}, projection)]
            return found
        gate = asyncio.Semaphore(_POINT_LOOKUPS_IN_FLIGHT)

        async def one(key: str) -> dict[str, Any] | None:
            async with gate:
                return await coll.find_one({"_id": key}, projection)

        return [raw for raw in await asyncio.gather(*map(one, wanted)) if raw is not None]

    async def _point_lookups(self) -> bool:
        if self._lookup_by_point is None:
            info = await self._db.client.admin.command("buildInfo")
            self._lookup_by_point = "ferretdbVersion" in info
        return self._lookup_by_point

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
        async with translated():
            return [model.model_validate(raw) for raw in await self._by_ids(coll, ids)]

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
        return await self._set_if_current(coll, key, rev, body)

    async def _set_if_current(
        self,
        coll: AsyncCollection[dict[str, Any]],
        key: str,
        rev: str | None,
        fields: dict[str, Any],
    ) -> bool:
        """`$set` these fields (their `rev` the successor of `rev`) if the document still has
        `rev`; True when the stored revision is then ours (the write won)."""
        async with translated():
            await coll.update_one({"_id": key, "rev": rev}, {"$set": fields})
        return await self._rev_of(coll, key) == fields["rev"]

    async def _rev_of(self, coll: AsyncCollection[dict[str, Any]], key: str) -> str | None:
        """The stored revision: a write succeeded only if it is the one the write carried."""
        async with translated():
            raw = await coll.find_one({"_id": key}, {"rev": 1})
        return raw.get("rev") if raw else None


_COUNTS = ("enrolledCount", "completedCount", "certifiedCount")
_COUNT_FIELDS = dict.fromkeys(_COUNTS, 1)


def _body(doc: BaseModel, key: str, exclude: set[str] | None = None) -> dict[str, Any]:
    body = doc.model_dump(exclude=exclude)
    body["_id"] = key
    body["rev"] = next_rev(getattr(doc, "rev", None))
    return body


async def _until(attempt: Callable[[], Awaitable[bool]], rounds: int = _ROUNDS) -> None:
    async with translated():
        for _ in range(rounds):
            if await attempt():
                return
    raise StoreUnavailable("a document kept changing under a conditional write")
