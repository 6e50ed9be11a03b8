"""The queries of the `DocumentStore` port that find batches, or a batch's requests, by other
fields than their id: what the service's clock work and course updates look up."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from schemas.documents import BatchDoc, EnrolmentRequest
from services.storage.errors import mongo_errors

__all__ = ["MongoBatchQueries"]

Raw = dict[str, Any]


class MongoBatchQueries:
    """Reads by `courseId`, `status`, the auto-cancel flag and a learner's `batchId`."""

    batches: AsyncCollection[Raw]
    enrolments: AsyncCollection[Raw]

    async def batch_ids_of_course(self, course_id: str) -> list[str]:
        async with mongo_errors():
            cursor = self.batches.find({"courseId": course_id}, {"_id": 1})
            return [raw["_id"] async for raw in cursor]

    async def batches_with_status(self, status: str | None) -> list[BatchDoc]:
        # Equality on `status` (indexed; a null also matches documents without the field).
        async with mongo_errors():
            return [
                BatchDoc.model_validate(raw) async for raw in self.batches.find({"status": status})
            ]

    async def batches_to_auto_cancel(self) -> list[BatchDoc]:
        query = {"cancelBatchWhenMinimumCapacityIsNotMet": True, "cancelled": False}
        async with mongo_errors():
            return [BatchDoc.model_validate(raw) async for raw in self.batches.find(query)]

    async def open_requests(self, batch_id: str) -> list[EnrolmentRequest]:
        # Only the `request` of each learner: the rest of a document (its facts) is not read,
        # and the document cache, which holds what the fold writes, is left alone.
        query = {"batchId": batch_id, "request": {"$ne": None}}
        async with mongo_errors():
            cursor = self.enrolments.find(query, {"request": 1})
            return [EnrolmentRequest.model_validate(raw["request"]) async for raw in cursor]
