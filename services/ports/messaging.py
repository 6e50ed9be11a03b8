"""The ports of the orchestration besides storage: what it receives (a consumed record),
what it sends (announcements, its own facts, dead letters), who watches it, and its clock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from schemas.events import BatchCancelled, Event
from schemas.outbound import Announcement

__all__ = ["Clock", "DeadLetter", "EventPublisher", "Observer", "Received"]


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
    timestamp_ms: int | None = None  # the record's Kafka timestamp


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message for the dead-letter topic: the original key and value, and why."""

    source: Received
    reason: str
    event_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


class EventPublisher(Protocol):
    """Kafka, seen from the orchestration. Each call returns once the broker acknowledged all."""

    async def announce(
        self, events: Sequence[Announcement], traces: Mapping[str, str] | None = None
    ) -> None:
        """Certificate events to their topic, enrolment-status events to theirs (by userId);
        `traces`: the W3C `traceparent` of the fact behind an event, by event id."""
        ...

    async def publish_fact(self, event: BatchCancelled) -> None:
        """A fact the service itself decided (the automatic cancellation), to its inbound
        topic like any publisher's."""
        ...

    async def dead_letter(self, letters: Sequence[DeadLetter]) -> None: ...

    async def reachable(self) -> None:
        """Raises `PublishUnavailable` unless the cluster answers (readiness)."""
        ...


class Observer(Protocol):
    """Watches the orchestration (durations, counts, traces) without the orchestration knowing
    how: `with observer.step("fold"): ...`."""

    def step(self, name: str) -> AbstractContextManager[None]:
        """Times one step (`fold`, `load`, `save`, `publish`, `acknowledge`, ...)."""
        ...

    def dead_lettered(self, letters: Sequence[DeadLetter]) -> None:
        """Letters just published to the dead-letter topic."""
        ...

    def announced(self, events: Sequence[Announcement], fact_times_ms: Mapping[str, int]) -> None:
        """Announcements just published; `fact_times_ms`: by event id, the Kafka timestamp of
        the fact that decided it, when this poll brought that fact."""
        ...


class Clock(Protocol):
    """The service's clock: the one input of batch status and automatic cancellation."""

    def now(self) -> datetime: ...
