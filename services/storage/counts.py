"""Batch counts, recounted from the enrolments for the batches marked stale (marks.py)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.domain.counts import COUNT_FIELDS, count_learners
from services.storage.errors import mongo_errors
from services.storage.guarded import GuardedWrites
from services.storage.marks import MongoMarks
from services.storage.revisions import next_rev, until_written

__all__ = ["COUNT_MARKS", "MongoCounts"]

Raw = dict[str, Any]
COUNT_MARKS = "count_marks"


class MongoCounts:
    """The `CountStore` port: marks in `count_marks`, counts written into `batches`."""

    def __init__(self, db: AsyncDatabase[Raw], guarded: GuardedWrites) -> None:
        self._marks = MongoMarks(db[COUNT_MARKS], guarded.bulk)
        self._batches: AsyncCollection[Raw] = db["batches"]
        self._enrolments: AsyncCollection[Raw] = db["enrolments"]
        self._guarded = guarded

    async def mark_stale(self, batch_ids: Iterable[str]) -> None:
        await self._marks.mark(batch_ids)

    async def recount_stale(self) -> int:
        """Recount every batch with a mark, then delete the marks seen; returns how many
        batches were recounted (a mark for a batch not created yet is just deleted)."""
        marks = await self._marks.pending()
        existing = set(await self._guarded.stored_revs(self._batches, marks))
        for batch_id, ids in marks.items():
            if batch_id in existing:
                await self._recount(batch_id)
            await self._marks.clear(ids)
        return len(existing)

    async def set_counts(self, batch_id: str, counts: dict[str, int]) -> None:
        """Write counts computed from every document of the batch (a shadow replay's)."""

        async def attempt() -> bool:
            async with mongo_errors():
                raw = await self._batches.find_one(
                    {"_id": batch_id}, {"rev": 1, **dict.fromkeys(COUNT_FIELDS, 1)}
                )
            if raw is None or all(raw.get(name) == n for name, n in counts.items()):
                return True  # nothing to write: the revision stays as it is
            fields = {**counts, "rev": next_rev(raw.get("rev"))}
            return await self._guarded.set_if_current(
                self._batches, batch_id, raw.get("rev"), fields
            )

        await until_written(attempt, f"batch {batch_id!r}")

    async def _recount(self, batch_id: str) -> None:
        await self.set_counts(batch_id, await self.count(batch_id))

    async def count(self, batch_id: str) -> dict[str, int]:
        """The batch's counts from one query on `batchId` (an indexed equality on both servers;
        FerretDB 1.x would scan the collection for each `count_documents`)."""
        fields = {"enrolled": 1, "progressStatus": 1, "certificates": 1, "enrolmentStatus": 1}
        async with mongo_errors():
            found = [raw async for raw in self._enrolments.find({"batchId": batch_id}, fields)]
        return count_learners(found)
