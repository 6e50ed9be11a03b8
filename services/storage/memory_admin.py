"""The in-memory store's pieces besides the fold: the API's reads and rate limits, replay
checkpoints, and maintenance (dump, swap, upgrade bookkeeping)."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable, Sequence
from typing import Any

import bson

from schemas.documents import BatchDoc, EnrolmentDoc
from services.storage.encoding import unpacked
from services.storage.memory_parts import Collections
from services.storage.revisions import next_rev

__all__ = [
    "InMemoryCheckpoints",
    "InMemoryIdempotency",
    "InMemoryMaintenance",
    "InMemoryRateLimits",
    "InMemoryReads",
]

Raw = dict[str, Any]


class InMemoryReads:
    """The `ReadStore` port in memory."""

    def __init__(self, colls: Collections) -> None:
        self._colls = colls

    async def list_batches(
        self,
        course_id: str | None,
        statuses: Sequence[str | None] | None,
        after: str | None,
        limit: int,
    ) -> list[BatchDoc]:
        found = [
            r
            for k, r in sorted(self._colls["batches"].items())
            if (after is None or k > after)
            and (course_id is None or r["courseId"] == course_id)
            and (statuses is None or r.get("status") in statuses)
        ]
        return [BatchDoc.model_validate(r) for r in found[:limit]]

    async def enrolments_of_user(
        self, user_id: str, after: str | None, limit: int
    ) -> list[EnrolmentDoc]:
        found = [
            r
            for k, r in sorted(self._colls["enrolments"].items())
            if r["userId"] == user_id and (after is None or k > after)
        ]
        return [EnrolmentDoc.model_validate(r) for r in found[:limit]]


class InMemoryRateLimits:
    """The `RateLimitStore` port in memory: per process (the API's fallback when it does not
    share counts through the database)."""

    def __init__(self) -> None:
        self._states: dict[str, tuple[dict[str, float], float]] = {}

    async def load(self, caller: str) -> dict[str, float] | None:
        found = self._states.get(caller)
        if found is None or found[1] < time.time():
            return None
        return dict(found[0])

    async def save(self, caller: str, state: dict[str, float], expire_at: float) -> None:
        if len(self._states) > 100_000:  # bounded: forget the expired ones
            now = time.time()
            self._states = {c: v for c, v in self._states.items() if v[1] >= now}
        self._states[caller] = (dict(state), expire_at)


class InMemoryIdempotency:
    """The `IdempotencyStore` port in memory (per process)."""

    def __init__(self) -> None:
        self._kept: dict[str, tuple[str, list[dict[str, Any]], float]] = {}

    async def claim(
        self, key: str, request: str, events: list[dict[str, Any]], expire_at: float
    ) -> tuple[str, list[dict[str, Any]]]:
        kept = self._kept.get(key)
        if kept is None or kept[2] < time.time():
            self._kept[key] = (request, copy.deepcopy(events), expire_at)
            return request, events
        return kept[0], copy.deepcopy(kept[1])


class InMemoryCheckpoints:
    """The `CheckpointStore` port in memory."""

    def __init__(self) -> None:
        self._saved: dict[str, dict[str, Any]] = {}

    async def save(self, name: str, state: dict[str, Any]) -> None:
        self._saved[name] = copy.deepcopy(state)

    async def load(self, name: str) -> dict[str, Any] | None:
        return copy.deepcopy(self._saved.get(name))

    async def drop(self, name: str) -> None:
        self._saved.pop(name, None)


class InMemoryMaintenance:
    """The `MaintenanceStore` port in memory."""

    def __init__(self, colls: Collections) -> None:
        self._colls = colls

    async def dump(self, collection: str) -> dict[str, Raw]:
        return copy.deepcopy(self._colls[collection])

    async def replace_all(self, collection: str, docs: Iterable[Raw]) -> int:
        self._colls.by_name[collection] = {d["_id"]: copy.deepcopy(d) for d in docs}
        return len(self._colls.by_name[collection])

    async def insert_encoded(self, collection: str, documents: Sequence[bytes]) -> int:
        stored = self._colls[collection]
        inserted = 0
        for raw in (unpacked(bson.decode(d)) for d in documents):  # as the Mongo store reads
            if raw["_id"] not in stored:
                stored[raw["_id"]] = raw
                inserted += 1
        return inserted

    async def legacy_applied_offsets(self) -> dict[str, dict[int, int]]:
        return {
            key: {int(p): int(o) for p, o in raw["appliedOffsets"].items()}
            for key, raw in self._colls["batches"].items()
            if "appliedOffsets" in raw
        }

    async def schema_version(self) -> str | None:
        return self._colls["service_meta"].get("schema", {}).get("version")

    async def set_schema_version(self, version: str) -> None:
        self._colls["service_meta"]["schema"] = {"_id": "schema", "version": version}

    async def all_batch_ids(self) -> list[str]:
        return list(self._colls["batches"])

    async def ping(self) -> None:
        pass

    async def forget_legacy_applied_offsets(self, batch_ids: Iterable[str]) -> None:
        for batch_id in batch_ids:
            raw = self._colls["batches"].get(batch_id)
            if raw is not None and raw.pop("appliedOffsets", None) is not None:
                raw["rev"] = next_rev(raw.get("rev"))
