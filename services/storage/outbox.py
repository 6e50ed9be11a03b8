"""The outbox: announcements kept in the enrolment documents until Kafka acknowledged them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from schemas.documents import EnrolmentDoc
from services.errors import DocumentKeptChanging
from services.storage.errors import mongo_errors
from services.storage.guarded import GuardedWrites
from services.storage.revisions import ROUNDS, next_rev

__all__ = ["STATS_SCAN", "MongoOutbox", "oldest_entry"]

STATS_SCAN = 1000  # documents looked at for the oldest entry's age

Raw = dict[str, Any]


class MongoOutbox:
    """The `OutboxStore` port: `hasOutbox` (indexed) marks documents with entries."""

    def __init__(self, enrolments: AsyncCollection[Raw], guarded: GuardedWrites) -> None:
        self._enrolments = enrolments
        self._guarded = guarded

    async def pending(self, limit: int) -> list[EnrolmentDoc]:
        async with mongo_errors():
            cursor = self._enrolments.find({"hasOutbox": True}).limit(limit)
            return [EnrolmentDoc.model_validate(raw) async for raw in cursor]

    async def stats(self) -> tuple[int, datetime | None]:
        async with mongo_errors():
            count = await self._enrolments.count_documents({"hasOutbox": True})
            cursor = self._enrolments.find({"hasOutbox": True}, {"outboxSince": 1}).limit(
                STATS_SCAN
            )
            raws = [raw async for raw in cursor]
        return count, oldest_entry(raws)

    async def acknowledge(self, acks: Mapping[str, set[str]]) -> None:
        """Remove these published entries from these documents' outboxes, in a few round trips
        for all of them: read, write what is left with the next revision, read back. Documents
        that changed meanwhile are done again."""
        pending = dict(acks)
        for _ in range(ROUNDS):
            if not pending:
                return
            revs, unproven = await self._write_what_is_left(pending)
            current = await self._guarded.stored_revs(self._enrolments, unproven)
            pending = {key: pending[key] for key in unproven if current.get(key) != revs[key]}
        raise DocumentKeptChanging("documents kept changing during an outbox acknowledgement")

    async def _write_what_is_left(
        self, pending: Mapping[str, set[str]]
    ) -> tuple[dict[str, str], set[str]]:
        """One guarded update per document that still holds an acknowledged entry; returns
        the revision each update carries, and the keys whose write the answer did not prove."""
        writes: list[UpdateOne] = []
        revs: dict[str, str] = {}
        projection = {"outbox": 1, "outboxSince": 1, "rev": 1}
        async with mongo_errors():
            for raw in await self._guarded.lookup.by_ids(self._enrolments, pending, projection):
                outbox = raw.get("outbox", [])
                left = [e for e in outbox if e.get("id") not in pending[raw["_id"]]]
                if len(left) == len(outbox):
                    continue  # acknowledged already (by a relay, say)
                revs[raw["_id"]] = rev = next_rev(raw.get("rev"))
                since = raw.get("outboxSince") if left else None
                fields = {"outbox": left, "hasOutbox": bool(left), "outboxSince": since, "rev": rev}
                update = {"$set": fields}
                writes.append(UpdateOne({"_id": raw["_id"], "rev": raw.get("rev")}, update))
            outcome = await self._guarded.bulk.write(self._enrolments, writes)
        keys = list(revs)
        return revs, {keys[i] for i in outcome.unconfirmed}


def oldest_entry(raws: Iterable[Raw]) -> datetime | None:
    """The earliest `outboxSince` of these raw documents (when their oldest entry was decided;
    an entry's own `time` is its business time, which may be months earlier)."""
    times = [_aware(raw["outboxSince"]) for raw in raws if raw.get("outboxSince")]
    return min(times, default=None)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
