"""The MongoDB store: one client, one database, and the store's pieces over them.

Only features that both MongoDB and FerretDB 1.x support are used: finds with `$in`, unique
and plain indexes, `insert`/`replace`/`$set` writes, unordered bulk writes, `count_documents`.
(FerretDB 1.24 silently ignores `$pull` with a condition and lacks `$cond`, so neither is used.)
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import structlog
from pymongo import ASCENDING, AsyncMongoClient

from services.ports import Stores
from services.storage.batch_events import BATCH_EVENTS_COLLECTION
from services.storage.bulk import DEFAULT_BULK_CHUNK, BulkWriter
from services.storage.checkpoints import MongoCheckpoints
from services.storage.counts import COUNT_MARKS, MongoCounts
from services.storage.doc_cache import DocumentCache
from services.storage.documents import MongoDocuments
from services.storage.errors import mongo_errors
from services.storage.guarded import GuardedWrites
from services.storage.idempotency import MongoIdempotency
from services.storage.locks import MongoRosterLocks
from services.storage.lookup import DetectedLookup
from services.storage.maintenance import MongoMaintenance
from services.storage.marks import MongoMarks
from services.storage.outbox import MongoOutbox
from services.storage.published import PublishedEntries
from services.storage.ratelimits import MongoRateLimits
from services.storage.reads import MongoReads

__all__ = ["COLLECTIONS", "MongoStore"]

log = structlog.get_logger("batch_service.store")

COLLECTIONS = ("batches", "courses", "enrolments", BATCH_EVENTS_COLLECTION)
REFRESH_MARKS = "refresh_marks"
Raw = dict[str, Any]


class MongoStore:
    """Every store port over one database of one client; `async with` closes the client."""

    def __init__(
        self,
        client: AsyncMongoClient[Raw],
        db_name: str,
        *,
        bulk_chunk: int = DEFAULT_BULK_CHUNK,
        write_concurrency: int = 1,
        cache_size: int = 0,
        pack_facts: bool = True,
    ) -> None:
        self.client = client
        db = client[db_name]
        self.lookup = DetectedLookup(db)
        self._guarded = guarded = GuardedWrites(
            self.lookup, BulkWriter(bulk_chunk, write_concurrency)
        )
        self.cache = cache = DocumentCache(cache_size)
        published = PublishedEntries()
        self.documents = MongoDocuments(db, guarded, cache, published, pack_facts)
        self.outbox = MongoOutbox(self.documents.enrolments, guarded, cache, published)
        self.counts = MongoCounts(db, guarded)
        self.checkpoints = MongoCheckpoints(db)
        self.maintenance = MongoMaintenance(db, bulk_chunk, guarded, pack_facts)
        self.refresh = MongoMarks(db[REFRESH_MARKS], guarded.bulk)
        self.locks = MongoRosterLocks(db, guarded)
        self.reads = MongoReads(db)
        self.rate_limits = MongoRateLimits(db)
        self.idempotency = MongoIdempotency(db)
        self._db = db

    @classmethod
    def connect(
        cls,
        uri: str,
        db_name: str,
        *,
        timeout_ms: int = 30_000,
        bulk_chunk: int = DEFAULT_BULK_CHUNK,
        write_concurrency: int = 1,
        cache_size: int = 0,
        pack_facts: bool = True,
        **client_options: Any,
    ) -> MongoStore:
        """A client (timezone-aware datetimes) and the store over its database.

        Every operation is bounded by `timeout_ms`, so a server that stops answering becomes a
        retriable error (and a stop request is honoured) rather than a hang. No connection is
        made until the first operation.
        """
        client: AsyncMongoClient[Raw] = AsyncMongoClient(
            uri,
            tz_aware=True,
            serverSelectionTimeoutMS=min(5000, timeout_ms),
            timeoutMS=timeout_ms,
            appname="batch-service",
            **client_options,
        )
        return cls(
            client,
            db_name,
            bulk_chunk=bulk_chunk,
            write_concurrency=write_concurrency,
            cache_size=cache_size,
            pack_facts=pack_facts,
        )

    def stores(self) -> Stores:
        """The ports the orchestration uses."""
        return Stores(
            self.documents,
            self.outbox,
            self.counts,
            self.checkpoints,
            self.maintenance,
            self.refresh,
            self.locks,
            self.reads,
            self.rate_limits,
            self.idempotency,
        )

    async def create_indexes(self) -> None:
        """The unique (batchId, userId) index of the contract, and those the queries need;
        then whether the server's answers to conditional writes are exact (`GuardedWrites`)."""
        async with mongo_errors():
            enrolments = self.documents.enrolments
            await enrolments.create_index(
                [("batchId", ASCENDING), ("userId", ASCENDING)], unique=True
            )
            await enrolments.create_index([("hasOutbox", ASCENDING)])
            await self.documents.batches.create_index([("courseId", ASCENDING)])
            await self.documents.batch_events.create_index([("batchId", ASCENDING)])
            await self._db[COUNT_MARKS].create_index([("batchId", ASCENDING)])
            await self._db[REFRESH_MARKS].create_index([("batchId", ASCENDING)])
            await self.documents.batches.create_index([("status", ASCENDING)])
            # The clock's auto-cancel check, every `status_refresh_s` on every instance.
            await self.documents.batches.create_index(
                [("cancelBatchWhenMinimumCapacityIsNotMet", ASCENDING)]
            )
            await enrolments.create_index([("userId", ASCENDING)])
        await self.rate_limits.create_indexes()
        await self.idempotency.create_indexes()
        exact = await self._guarded.probe(self._db["service_meta"])
        log.info("store_ready", exact_write_answers=exact)

    @property
    def exact_write_answers(self) -> bool:
        """Whether a conditional write that matched needs no read-back (found by the probe
        of `create_indexes`; False before it)."""
        return self._guarded.exact

    async def close(self) -> None:
        """Close the client and its connections."""
        await self.client.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
