"""The in-memory store's pieces of the fold: its collections, outbox, counts, marks and locks
(the documents and the composition are in memory.py, the rest in memory_admin.py)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from schemas.documents import EnrolmentDoc
from services.domain.counts import count_learners
from services.storage.outbox import STATS_SCAN
from services.storage.published import PublishedEntries, oldest_entry, unpublished
from services.storage.revisions import next_rev

__all__ = [
    "Collections",
    "InMemoryCounts",
    "InMemoryLocks",
    "InMemoryMarks",
    "InMemoryOutbox",
]

Raw = dict[str, Any]


class Collections:
    """Named collections of raw documents by `_id`."""

    def __init__(self) -> None:
        self.by_name: dict[str, dict[str, Raw]] = {}

    def __getitem__(self, name: str) -> dict[str, Raw]:
        return self.by_name.setdefault(name, {})


class InMemoryOutbox:
    """The `OutboxStore` port in memory."""

    def __init__(self, colls: Collections) -> None:
        self._colls = colls

    async def pending(self, limit: int, min_age_s: float = 0.0) -> list[EnrolmentDoc]:
        found = (r for r in self._colls["enrolments"].values() if r.get("hasOutbox"))
        docs = [EnrolmentDoc.model_validate(r) for r in itertools.islice(found, limit)]
        return unpublished(docs, PublishedEntries(), min_age_s)

    async def stats(self) -> tuple[int, datetime | None]:
        raws = [r for r in self._colls["enrolments"].values() if r.get("hasOutbox")]
        return len(raws), oldest_entry(raws[:STATS_SCAN])

    async def acknowledge(self, acks: Mapping[str, set[str]]) -> None:
        for key, ids in acks.items():
            raw = self._colls["enrolments"].get(key)
            if raw is None:
                continue
            left = [e for e in raw.get("outbox", []) if e["id"] not in ids]
            if len(left) != len(raw.get("outbox", [])):
                since = raw.get("outboxSince") if left else None
                raw.update(
                    outbox=left,
                    hasOutbox=bool(left),
                    outboxSince=since,
                    rev=next_rev(raw.get("rev")),
                )

    async def flush(self, older_than_s: float = 0.0) -> int:
        return 0  # acknowledged at once


class InMemoryCounts:
    """The `CountStore` port in memory: a set of stale batch ids."""

    def __init__(self, colls: Collections) -> None:
        self._colls = colls
        self._stale: set[str] = set()

    async def mark_stale(self, batch_ids: Iterable[str]) -> None:
        self._stale.update(batch_ids)

    async def recount_stale(self) -> int:
        stale, self._stale = self._stale, set()
        batches = self._colls["batches"]
        existing = [b for b in stale if b in batches]
        for batch_id in existing:
            counts = self._counts(batch_id)
            raw = batches[batch_id]
            if any(raw.get(name) != n for name, n in counts.items()):
                raw.update(counts, rev=next_rev(raw.get("rev")))
        return len(existing)

    async def count(self, batch_id: str) -> dict[str, int]:
        return self._counts(batch_id)

    async def set_counts(self, batch_id: str, counts: dict[str, int]) -> None:
        raw = self._colls["batches"].get(batch_id)
        if raw is not None and any(raw.get(name) != n for name, n in counts.items()):
            raw.update(counts, rev=next_rev(raw.get("rev")))

    def _counts(self, batch_id: str) -> dict[str, int]:
        docs = self._colls["enrolments"].values()
        return count_learners(r for r in docs if r["batchId"] == batch_id)


class InMemoryMarks:
    """The `RefreshMarks` port in memory."""

    def __init__(self) -> None:
        self._marks: dict[str, tuple[str, str, float]] = {}  # mark id -> batchId, owner, at
        self._ids = itertools.count()

    async def mark(
        self, batch_ids: Iterable[str], owner: str = "", at: float | None = None
    ) -> list[str]:
        made = time.time() if at is None else at
        marks = [f"{b}\n{next(self._ids)}" for b in set(batch_ids)]
        self._marks.update((m, (m.split("\n", 1)[0], owner, made)) for m in marks)
        return marks

    async def pending(self, owner: str = "", older_than_s: float = 0.0) -> dict[str, list[str]]:
        cutoff = time.time() - older_than_s
        found: dict[str, list[str]] = {}
        for mark, (batch_id, by, at) in self._marks.items():
            if by == owner or at <= cutoff:
                found.setdefault(batch_id, []).append(mark)
        return found

    async def clear(self, mark_ids: Iterable[str]) -> None:
        for mark in mark_ids:
            self._marks.pop(mark, None)


class InMemoryLocks:
    """The `RosterLocks` port in memory (a lease by the machine's time)."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[str, float]] = {}

    async def acquire(self, batch_id: str, holder: str, ttl_s: float) -> bool:
        now = time.time()
        current = self._held.get(batch_id)
        if current is not None and current[0] != holder and current[1] > now:
            return False
        self._held[batch_id] = (holder, now + ttl_s)
        return True

    async def release(self, batch_id: str, holder: str) -> None:
        if self._held.get(batch_id, ("", 0.0))[0] == holder:
            del self._held[batch_id]
