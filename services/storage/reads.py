"""The HTTP API's lists: batches by course and status, a learner's enrolments; by `_id` pages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from schemas.documents import BatchDoc, EnrolmentDoc
from services.storage.encoding import from_stored
from services.storage.errors import mongo_errors

__all__ = ["MongoReads"]

Raw = dict[str, Any]


class MongoReads:
    """The `ReadStore` port (indexes: `batches.courseId`, `batches.status`,
    `enrolments.userId`)."""

    def __init__(self, db: AsyncDatabase[Raw]) -> None:
        self._batches = db["batches"]
        self._enrolments = db["enrolments"]

    async def list_batches(
        self,
        course_id: str | None,
        statuses: Sequence[str | None] | None,
        after: str | None,
        limit: int,
    ) -> list[BatchDoc]:
        query: Raw = _after(after)
        if course_id is not None:
            query["courseId"] = course_id
        if statuses is not None:
            query["$or"] = [{"status": s} for s in statuses]
        async with mongo_errors():
            cursor = self._batches.find(query).sort("_id", ASCENDING).limit(limit)
            return [BatchDoc.model_validate(raw) async for raw in cursor]

    async def enrolments_of_user(
        self, user_id: str, after: str | None, limit: int
    ) -> list[EnrolmentDoc]:
        query = {"userId": user_id, **_after(after)}
        async with mongo_errors():
            cursor = self._enrolments.find(query).sort("_id", ASCENDING).limit(limit)
            return [from_stored(EnrolmentDoc, raw) async for raw in cursor]


def _after(after: str | None) -> Raw:
    return {} if after is None else {"_id": {"$gt": after}}
