"""Batches, courses and enrolments: loads, and saves guarded by `rev`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel
from pymongo import InsertOne, ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from schemas.documents import BatchDoc, CourseDoc, EnrolmentDoc
from services.domain.counts import COUNT_FIELDS
from services.storage.batch_events import BATCH_EVENTS_COLLECTION, MongoBatchEventLog
from services.storage.batch_queries import MongoBatchQueries
from services.storage.doc_cache import DocumentCache
from services.storage.encoding import from_stored, stored_enrolment
from services.storage.errors import mongo_errors
from services.storage.guarded import GuardedWrites
from services.storage.published import PublishedEntries
from services.storage.revisions import body_of

__all__ = ["MongoDocuments"]

Raw = dict[str, Any]
M = TypeVar("M", bound=BaseModel)
_SAMPLE = 100  # documents read before guessing, when the cache has no history yet


class MongoDocuments(MongoBatchEventLog, MongoBatchQueries):
    """The `DocumentStore` port on MongoDB (or FerretDB)."""

    def __init__(
        self,
        db: AsyncDatabase[Raw],
        guarded: GuardedWrites,
        cache: DocumentCache | None = None,
        published: PublishedEntries | None = None,
        pack_facts: bool = True,
    ) -> None:
        self._guarded = guarded
        self._pack_facts = pack_facts
        self.cache = cache if cache is not None else DocumentCache(0)
        self.published = published if published is not None else PublishedEntries()
        self.batches: AsyncCollection[Raw] = db["batches"]
        self.courses: AsyncCollection[Raw] = db["courses"]
        self.enrolments: AsyncCollection[Raw] = db["enrolments"]
        self.batch_events: AsyncCollection[Raw] = db[BATCH_EVENTS_COLLECTION]

    async def get_courses(self, ids: Iterable[str]) -> dict[str, CourseDoc]:
        return {d.courseId: d for d in await self._find(self.courses, CourseDoc, ids)}

    async def get_batches(self, ids: Iterable[str]) -> dict[str, BatchDoc]:
        return {d.batchId: d for d in await self._find(self.batches, BatchDoc, ids)}

    async def get_enrolments(
        self, keys: Iterable[str], *, may_guess_new: bool = False
    ) -> dict[str, EnrolmentDoc]:
        found: dict[str, EnrolmentDoc] = {}
        missing = []
        for key in dict.fromkeys(keys):
            doc = self.cache.get(key)
            if doc is not None:
                found[key] = doc
            else:
                missing.append(key)
        if may_guess_new and missing and not self.cache.warm:
            # Cold: read a sample first, then guess for the rest from what it found.
            sample, missing = missing[:_SAMPLE], missing[_SAMPLE:]
            found |= await self._read(sample, settle_absent=True)
        if may_guess_new:
            missing = [key for key in missing if not self.cache.guess_new(key)]
        found |= await self._read(missing)
        return {key: self._unpublished(doc) for key, doc in found.items()}

    async def _read(self, keys: list[str], settle_absent: bool = False) -> dict[str, EnrolmentDoc]:
        """Read and cache these documents; the misses they settle are counted (the absent
        ones by their insert, unless `settle_absent`)."""
        if not keys:
            return {}
        read = {doc.key: doc for doc in await self._find(self.enrolments, EnrolmentDoc, keys)}
        for key in keys:
            if key in read:
                self.cache.put(read[key])
                self.cache.missed(key, existed=True)
            elif settle_absent:
                self.cache.missed(key, existed=False)
        return read

    async def enrolments_of_batch(self, batch_id: str) -> list[EnrolmentDoc]:
        async with mongo_errors():
            cursor = self.enrolments.find({"batchId": batch_id})
            docs = [from_stored(EnrolmentDoc, raw) async for raw in cursor]
        for doc in docs:
            self.cache.put(doc)
        return [self._unpublished(doc) for doc in docs]

    def _unpublished(self, doc: EnrolmentDoc) -> EnrolmentDoc:
        """The document as the fold sees it: its outbox without the entries this process
        published and has not removed yet (`PublishedEntries`); the next save removes them."""
        published = self.published.of(doc.key)
        if not published or not doc.outbox:
            return doc
        left = [e for e in doc.outbox if e.id not in published]
        since = doc.outboxSince if left else None
        return doc.model_copy(update={"outbox": left, "outboxSince": since})

    async def save_course(self, doc: CourseDoc) -> bool:
        return await self._save_one(self.courses, doc.courseId, doc)

    async def save_batch(self, doc: BatchDoc) -> bool:
        # Counts are the count store's to write; a batch event never overwrites them.
        return await self._save_one(self.batches, doc.batchId, doc, keep=COUNT_FIELDS)

    async def save_enrolments(self, docs: Sequence[EnrolmentDoc]) -> set[str]:
        if not docs:
            return set()
        writes: list[InsertOne[Raw] | ReplaceOne[Raw]] = []
        keys: list[str] = []
        revs: list[str] = []  # the revision each write carries
        for doc in docs:
            body = stored_enrolment(doc, self._pack_facts)
            keys.append(doc.key)
            revs.append(body["rev"])
            if doc.rev is None:
                writes.append(InsertOne(body))
            else:
                writes.append(ReplaceOne({"_id": doc.key, "rev": doc.rev}, body))
        async with mongo_errors():
            # An insert fails atomically on the unique _id: its error names the lost race.
            outcome = await self._guarded.bulk.write(self.enrolments, writes)
        lost = {keys[i] for i in outcome.duplicates}
        # The writes the answer does not prove (a conflict, a short match, a silent guard).
        unproven = {keys[i]: revs[i] for i in outcome.unconfirmed - outcome.duplicates}
        if unproven:
            current = await self._guarded.stored_revs(self.enrolments, unproven)
            lost |= {key for key, rev in unproven.items() if current.get(key) != rev}
        for i, doc in enumerate(docs):
            if doc.rev is None:  # taken for new, read or guessed: settled now
                self.cache.missed(doc.key, existed=i in outcome.duplicates)
        self.cache.drop(lost)  # after `missed`: a lost key is read next time, never guessed
        self.published.forget_written(lost)
        for doc, rev in zip(docs, revs, strict=True):
            if doc.key not in lost:
                self.cache.put(doc.model_copy(update={"rev": rev}))
                kept = {e.id for e in doc.outbox}
                self.published.removed(doc.key, self.published.of(doc.key) - kept)
                self.published.wrote(doc.key, rev, kept)
        return lost

    async def _find(
        self, coll: AsyncCollection[Raw], model: type[M], ids: Iterable[str]
    ) -> list[M]:
        async with mongo_errors():
            found = await self._guarded.lookup.by_ids(coll, ids, None)
        return [from_stored(model, raw) for raw in found]

    async def _save_one(
        self, coll: AsyncCollection[Raw], key: str, doc: BaseModel, keep: tuple[str, ...] = ()
    ) -> bool:
        rev = getattr(doc, "rev", None)
        body = body_of(doc, key, exclude=set(keep))
        if rev is None:
            async with mongo_errors():
                try:
                    await coll.insert_one(body)
                except DuplicateKeyError:
                    return False
            return True
        return await self._guarded.set_if_current(coll, key, rev, body)
