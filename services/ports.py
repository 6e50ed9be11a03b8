"""What the orchestration needs from the outside world, as Protocols (no driver imports)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from schemas.documents import BatchDoc, CourseDoc, EnrolmentDoc
from schemas.events import Event

__all__ = ["DeadLetter", "EventPublisher", "Received", "Store"]


@dataclass(frozen=True, slots=True)
class Received:
    """One consumed record: where it came from, its bytes, and the event or why it is bad."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] = ()
    event: Event | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message for the dead-letter topic: the original key and value, and why."""

    source: Received
    reason: str
    event_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


class Store(Protocol):
    """Documents with optimistic concurrency: a save succeeds only if `rev` is still current."""

    async def get_courses(self, ids: Iterable[str]) -> dict[str, CourseDoc]: ...

    async def get_batches(self, ids: Iterable[str]) -> dict[str, BatchDoc]: ...

    async def get_enrolments(self, keys: Iterable[str]) -> dict[str, EnrolmentDoc]: ...

    async def enrolments_of_batch(self, batch_id: str) -> list[EnrolmentDoc]: ...

    async def batch_ids_of_course(self, course_id: str) -> list[str]: ...

    async def save_course(self, doc: CourseDoc) -> bool: ...

    async def save_batch(self, doc: BatchDoc) -> bool: ...

    async def save_enrolments(self, docs: Sequence[EnrolmentDoc]) -> set[str]:
        """Save; return the keys whose `rev` was no longer current (nothing written for them)."""
        ...

    async def mark_counts_stale(self, batch_ids: Iterable[str]) -> None:
        """Persist that these batches' counts need recounting."""
        ...

    async def recount_stale(self) -> int:
        """Recount the batches marked stale (exact for the writes made before the call)."""
        ...

    async def pending_outbox(self, limit: int) -> list[EnrolmentDoc]: ...

    async def ack_outbox(self, acks: Mapping[str, set[str]]) -> None:
        """Remove these entries (event ids by enrolment key) from the documents' outboxes:
        they were published."""
        ...


class EventPublisher(Protocol):
    """Kafka, seen from the orchestration. Each call returns once the broker acknowledged all."""

    async def publish_certificates(self, events: Sequence[dict[str, Any]]) -> None: ...

    async def dead_letter(self, letters: Sequence[DeadLetter]) -> None: ...
