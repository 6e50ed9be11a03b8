"""The store ports, split by job: documents (load, guarded save), reads for the API, rate
limits, the outbox, counts, roster locks, refresh marks, replay checkpoints and maintenance
(dump, swap). `Stores` bundles them; the MongoDB adapter and the in-memory fake both provide
one."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from schemas.documents import BatchDoc, CourseDoc, EnrolmentDoc, EnrolmentRequest

__all__ = [
    "CheckpointStore",
    "CountStore",
    "DocumentStore",
    "IdempotencyStore",
    "MaintenanceStore",
    "OutboxStore",
    "RateLimitStore",
    "ReadStore",
    "RefreshMarks",
    "RosterLocks",
    "Stores",
]


class DocumentStore(Protocol):
    """Documents with optimistic concurrency: a save succeeds only if `rev` is still current."""

    async def get_courses(self, ids: Iterable[str]) -> dict[str, CourseDoc]: ...

    async def get_batches(self, ids: Iterable[str]) -> dict[str, BatchDoc]: ...

    async def get_enrolments(
        self, keys: Iterable[str], *, may_guess_new: bool = False
    ) -> dict[str, EnrolmentDoc]:
        """The documents of these keys that exist. `may_guess_new` (the fold's load): a key
        the store has reason to think new may be left out unread; if it existed, its insert
        loses like any concurrent write, and the fold reads it next round."""
        ...

    async def enrolments_of_batch(self, batch_id: str) -> list[EnrolmentDoc]: ...

    async def batch_ids_of_course(self, course_id: str) -> list[str]: ...

    async def save_course(self, doc: CourseDoc) -> bool:
        """Insert (no `rev`) or replace (`rev` still current); False when another writer won."""
        ...

    async def save_batch(self, doc: BatchDoc) -> bool:
        """Like `save_course`; the counts are the count store's and are never overwritten."""
        ...

    async def save_enrolments(self, docs: Sequence[EnrolmentDoc]) -> set[str]:
        """Save; return the keys whose `rev` was no longer current (nothing written for them)."""
        ...

    async def applied_batch_events(self, batch_id: str, event_ids: Iterable[str]) -> set[str]:
        """Which of these events of `lms.batch.v1` the batch has consumed already (applied or
        rejected)."""
        ...

    async def rejected_batch_events(
        self, batch_id: str, event_ids: Iterable[str]
    ) -> dict[str, str]:
        """Of these event ids, those remembered as rejected, each with why (see
        `remember_batch_events`)."""
        ...

    async def remember_batch_events(
        self, batch_id: str, event_ids: Iterable[str], rejected: Mapping[str, str] | None = None
    ) -> None:
        """Record that the batch consumed these events, `rejected` ones (id -> the reason of
        their dead letter) as rejected and the others as applied (idempotent; the last outcome
        of an event wins)."""
        ...

    async def batches_with_status(self, status: str | None) -> list[BatchDoc]:
        """The batches whose stored `status` is this (None: documents without one)."""
        ...

    async def batches_to_auto_cancel(self) -> list[BatchDoc]:
        """Batches not cancelled that ask to be when their minimum capacity is not met."""
        ...

    async def open_requests(self, batch_id: str) -> list[EnrolmentRequest]:
        """The open requests for a seat (contract 7) of the batch's learners, alone."""
        ...


class ReadStore(Protocol):
    """What the HTTP API lists: documents by other keys than their id, a page at a time,
    in `_id` order (`after`: the last `_id` of the previous page)."""

    async def list_batches(
        self,
        course_id: str | None,
        statuses: Sequence[str | None] | None,
        after: str | None,
        limit: int,
    ) -> list[BatchDoc]:
        """Batches of a course (or all), whose stored status is one of `statuses` (or any)."""
        ...

    async def enrolments_of_user(
        self, user_id: str, after: str | None, limit: int
    ) -> list[EnrolmentDoc]: ...


class RateLimitStore(Protocol):
    """Per-caller request counts of the HTTP API, shared by its instances."""

    async def load(self, caller: str) -> dict[str, float] | None:
        """The caller's state (`windowStart`, `count`, `lockedUntil`; epoch seconds)."""
        ...

    async def save(self, caller: str, state: dict[str, float], expire_at: float) -> None:
        """Keep the state until `expire_at` (epoch seconds)."""
        ...


class IdempotencyStore(Protocol):
    """What the HTTP API answered a command with, by `Idempotency-Key`, for a while."""

    async def claim(
        self, key: str, request: str, events: list[dict[str, Any]], expire_at: float
    ) -> tuple[str, list[dict[str, Any]]]:
        """Keep `events` as the answer to the command named `key` (`request`: a digest of the
        command), unless one is kept already; returns what is kept, either way. Kept until
        `expire_at` (epoch seconds)."""
        ...


class OutboxStore(Protocol):
    """Announcements written with the documents that decided them, until Kafka has them."""

    async def pending(self, limit: int, min_age_s: float = 0.0) -> list[EnrolmentDoc]:
        """Documents with announcements still to publish (at most `limit` read), each with only
        those entries; `min_age_s`: only documents whose oldest entry is at least that old."""
        ...

    async def stats(self) -> tuple[int, datetime | None]:
        """How many documents hold announcements not known published, and when the oldest of
        those was decided (among the first thousand documents: a bound on the cost of a
        scrape). Entries this process published but has not removed yet are left out."""
        ...

    async def acknowledge(self, acks: Mapping[str, set[str]]) -> None:
        """These entries (event ids by enrolment key) were published: remove them from the
        documents' outboxes, now or (deferred) by `flush`."""
        ...

    async def flush(self, older_than_s: float = 0.0) -> int:
        """Remove the acknowledged entries not removed yet that were acknowledged at least
        `older_than_s` ago; returns how many documents were written."""
        ...


class CountStore(Protocol):
    """Batch counts, recounted from the enrolments for the batches marked stale."""

    async def mark_stale(self, batch_ids: Iterable[str]) -> None:
        """Persist that these batches' counts need recounting."""
        ...

    async def recount_stale(self) -> int:
        """Recount the batches marked stale (exact for the writes made before the call);
        returns how many were recounted."""
        ...

    async def count(self, batch_id: str) -> dict[str, int]:
        """The batch's counts now, from its learners' documents (one query)."""
        ...

    async def set_counts(self, batch_id: str, counts: dict[str, int]) -> None:
        """Write counts computed elsewhere from every document of the batch (a shadow
        replay, the only writer of its database, folds each batch whole)."""
        ...


class RosterLocks(Protocol):
    """One writer at a time per batch roster whose seats depend on one another.

    Settling such a batch reads every learner's document and writes those whose seat moved;
    another writer's half-finished write would make that read torn, and a decision taken on
    a torn read may announce what a consistent one would not (a latch cannot be undone). So
    the settle holds the roster's lock from its read to its last write. A lock expires after
    `ttl_s`, so a crashed holder delays the roster, never blocks it."""

    async def acquire(self, batch_id: str, holder: str, ttl_s: float) -> bool:
        """Take (or renew) the lock; False while another holder has it."""
        ...

    async def release(self, batch_id: str, holder: str) -> None:
        """Give the lock up (nothing when another holder has it now)."""
        ...


class RefreshMarks(Protocol):
    """Batches whose learners must be evaluated again (their rules changed): marked before the
    change is saved, cleared once done, so a crash in between leaves the work findable."""

    async def mark(
        self, batch_ids: Iterable[str], owner: str = "", at: float | None = None
    ) -> list[str]:
        """Persist a mark per batch, made by `owner` (the instance that will do the work) `at`
        (epoch seconds; default now); returns the marks' ids."""
        ...

    async def pending(self, owner: str = "", older_than_s: float = 0.0) -> dict[str, list[str]]:
        """Mark ids by batchId: `owner`'s marks, and the others made `older_than_s` ago or
        earlier (a younger one may be in the hands of the instance that made it, between its
        mark and its save: evaluated before that save, it would be cleared too early)."""
        ...

    async def clear(self, mark_ids: Iterable[str]) -> None:
        """Delete these marks (a mark made meanwhile stays)."""
        ...


class CheckpointStore(Protocol):
    """How far a replay got, kept in the database it writes to."""

    async def save(self, name: str, state: dict[str, Any]) -> None: ...

    async def load(self, name: str) -> dict[str, Any] | None: ...

    async def drop(self, name: str) -> None: ...


class MaintenanceStore(Protocol):
    """Whole-collection operations for operators' tools (reports, swaps)."""

    async def dump(self, collection: str) -> dict[str, dict[str, Any]]:
        """Every document of a collection by `_id` (loads it all in memory)."""
        ...

    async def replace_all(self, collection: str, docs: Iterable[dict[str, Any]]) -> int:
        """Make the collection hold exactly these documents (not atomic: stop writers first)."""
        ...

    async def insert_encoded(self, collection: str, documents: Sequence[bytes]) -> int:
        """Insert documents already in their stored form, encoded as BSON (`encode_enrolments`:
        a shadow replay's bulk load); one whose `_id` exists is left as it is. Returns how many
        were inserted."""
        ...

    async def legacy_applied_offsets(self) -> dict[str, dict[int, int]]:
        """Batches written before batch events were remembered by id: the last offset they
        applied per partition of `lms.batch.v1` (their `appliedOffsets`), by batchId."""
        ...

    async def forget_legacy_applied_offsets(self, batch_ids: Iterable[str]) -> None:
        """Remove `appliedOffsets` from these batches (their events are remembered by id)."""
        ...

    async def schema_version(self) -> str | None:
        """The document version the database was last upgraded to (None: never)."""
        ...

    async def set_schema_version(self, version: str) -> None: ...

    async def all_batch_ids(self) -> list[str]: ...

    async def ping(self) -> None:
        """Raises `StoreUnavailable` unless the database answers (readiness)."""
        ...


@dataclass(frozen=True)
class Stores:
    """Every store port of one database."""

    documents: DocumentStore
    outbox: OutboxStore
    counts: CountStore
    checkpoints: CheckpointStore
    maintenance: MaintenanceStore
    refresh: RefreshMarks
    locks: RosterLocks
    reads: ReadStore
    rate_limits: RateLimitStore
    idempotency: IdempotencyStore
