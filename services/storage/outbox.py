"""The outbox: announcements kept in the enrolment documents until Kafka acknowledged them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from schemas.documents import EnrolmentDoc
from services.errors import DocumentKeptChanging
from services.storage.doc_cache import DocumentCache
from services.storage.encoding import from_stored
from services.storage.errors import mongo_errors
from services.storage.guarded import GuardedWrites
from services.storage.published import PublishedEntries, oldest_entry, unpublished
from services.storage.revisions import ROUNDS, next_rev

__all__ = ["STATS_SCAN", "MongoOutbox"]

STATS_SCAN = 1000  # documents looked at for the oldest entry's age

Raw = dict[str, Any]


class MongoOutbox:
    """The `OutboxStore` port: `hasOutbox` (indexed) marks documents with entries."""

    def __init__(
        self,
        enrolments: AsyncCollection[Raw],
        guarded: GuardedWrites,
        cache: DocumentCache | None = None,
        published: PublishedEntries | None = None,
    ) -> None:
        self._enrolments = enrolments
        self._guarded = guarded
        self._cache = cache if cache is not None else DocumentCache(0)
        self._published = published if published is not None else PublishedEntries()

    async def pending(self, limit: int, min_age_s: float = 0.0) -> list[EnrolmentDoc]:
        async with mongo_errors():
            cursor = self._enrolments.find({"hasOutbox": True}).limit(limit)
            docs = [from_stored(EnrolmentDoc, raw) async for raw in cursor]
        return unpublished(docs, self._published, min_age_s)

    async def stats(self) -> tuple[int, datetime | None]:
        """Documents holding entries not known published, and the oldest of those: an entry
        this process published and has not removed yet (`outbox_ack_delay_s`) is not pending."""
        async with mongo_errors():
            projection = {"outbox": 1, "outboxSince": 1}
            cursor = self._enrolments.find({"hasOutbox": True}, projection).limit(STATS_SCAN)
            raws = [raw async for raw in cursor]
            waiting = [raw for raw in raws if self._unpublished_in(raw)]
            if len(raws) < STATS_SCAN:  # the scan saw every one: exact
                return len(waiting), oldest_entry(waiting)
            # Beyond the scan, every document counts as waiting. Documents the fold adds or a
            # flush empties between the scan and the count make this an estimate: never
            # fewer than the scan saw waiting.
            count = await self._enrolments.count_documents({"hasOutbox": True})
        return max(len(waiting), count - (len(raws) - len(waiting))), oldest_entry(waiting)

    def _unpublished_in(self, raw: Raw) -> bool:
        published = self._published.of(raw["_id"])
        return any(entry.get("id") not in published for entry in raw.get("outbox", []))

    async def acknowledge(self, acks: Mapping[str, set[str]]) -> None:
        """These entries are published: removed from their documents by the fold's next write
        of them, or by `flush` (`PublishedEntries`)."""
        self._published.add(acks)

    async def flush(self, older_than_s: float = 0.0) -> int:
        """Remove from their documents the entries published at least `older_than_s` ago and
        not removed yet; returns how many documents were written."""
        due = self._published.due(older_than_s)
        if not due:
            return 0
        await self._remove(due)
        for key, ids in due.items():
            self._published.removed(key, ids)
        return len(due)

    async def _remove(self, acks: Mapping[str, set[str]]) -> None:
        """Remove these entries from these documents' outboxes, in a few round trips for all
        of them: write what is left with the next revision (the document as this process last
        wrote it when cached, else as read), then read back what the answer did not prove.
        Documents that changed meanwhile are done again."""
        pending = dict(acks)
        for _ in range(ROUNDS):
            if not pending:
                return
            pending = {key: pending[key] for key in await self._write_what_is_left(pending)}
        raise DocumentKeptChanging("documents kept changing during an outbox acknowledgement")

    async def _write_what_is_left(self, pending: Mapping[str, set[str]]) -> set[str]:
        """One guarded update per document that still holds an acknowledged entry; returns
        the keys to do again (changed meanwhile by another writer)."""
        states = {key: doc for key in pending if (doc := self._cache.get(key)) is not None}
        raws = {key: _state_of(doc) for key, doc in states.items()}
        for key in pending.keys() - raws.keys():
            last = self._published.written(key)
            if last is not None and last[1] <= pending[key]:  # every entry published
                rev, ids = last
                raws[key] = {"outbox": [{"id": i} for i in ids], "outboxSince": None, "rev": rev}
        unread = [key for key in pending if key not in raws]
        projection = {"outbox": 1, "outboxSince": 1, "rev": 1}
        writes: list[UpdateOne] = []
        written: dict[str, dict[str, Any]] = {}  # key -> the fields written
        async with mongo_errors():
            if unread:
                found = await self._guarded.lookup.by_ids(self._enrolments, unread, projection)
                raws.update((raw["_id"], raw) for raw in found)
            for key, raw in raws.items():
                outbox = raw.get("outbox", [])
                left = [e for e in outbox if e.get("id") not in pending[key]]
                if len(left) == len(outbox):
                    continue  # acknowledged already (by a relay, say)
                since = raw.get("outboxSince") if left else None
                written[key] = fields = {
                    "outbox": left,
                    "hasOutbox": bool(left),
                    "outboxSince": since,
                    "rev": next_rev(raw.get("rev")),
                }
                writes.append(UpdateOne({"_id": key, "rev": raw.get("rev")}, {"$set": fields}))
            outcome = await self._guarded.bulk.write(self._enrolments, writes)
        keys = list(written)
        unproven = {keys[i] for i in outcome.unconfirmed}
        current = await self._guarded.stored_revs(self._enrolments, unproven) if unproven else {}
        again = {key for key in unproven if current.get(key) != written[key]["rev"]}
        self._cache.drop(again)
        self._published.forget_written(again)
        for key, fields in written.items():
            if key in again:
                continue
            left_ids = {e["id"] for e in fields["outbox"]}
            self._published.wrote(key, fields["rev"], left_ids)
            if key in states:
                outbox = [e for e in states[key].outbox if e.id in left_ids]
                update = {
                    "outbox": outbox,
                    "outboxSince": fields["outboxSince"],
                    "rev": fields["rev"],
                }
                self._cache.put(states[key].model_copy(update=update))
        return again


def _state_of(doc: EnrolmentDoc) -> Raw:
    """A cached document's outbox as stored (the fields an acknowledgement reads)."""
    return {
        "outbox": [e.model_dump() for e in doc.outbox],
        "outboxSince": doc.outboxSince,
        "rev": doc.rev,
    }
