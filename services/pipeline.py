"""Orchestration: load the affected documents, fold, save with optimistic concurrency, publish.

The order is the service's promise: persist (documents, with announcements in their outbox),
then publish (dead letters, announcements), then the caller commits offsets. Every step can
be repeated after a crash: the fold is idempotent and the outbox survives.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from schemas.documents import EnrolmentDoc
from schemas.events import CoursePublished
from services.convergence import BATCH_EVENTS, PollFold
from services.ports import DeadLetter, EventPublisher, Received, Stores

__all__ = ["Pipeline", "Report"]


@dataclass
class Report:
    """What one call did, for logs and progress displays."""

    events: int = 0
    dead_letters: int = 0
    enrolments_written: int = 0
    certificates: list[str] = field(default_factory=list)


class Pipeline:
    """Folds batches of received records into the store and publishes what follows."""

    def __init__(self, stores: Stores, publisher: EventPublisher, *, max_rounds: int = 25) -> None:
        self._stores = stores
        self._publisher = publisher
        self._max_rounds = max_rounds

    async def handle(self, received: Sequence[Received]) -> Report:
        """Persist, then publish. Returns once both are durable; the caller then commits."""
        report = Report(events=len(received))
        run = PollFold(self._stores.documents, self._max_rounds)
        letters = [DeadLetter(r, r.reason or "invalid") for r in received if r.event is None]
        good = [r for r in received if r.event is not None]
        await run.courses([r for r in good if isinstance(r.event, CoursePublished)])
        letters += await run.batches([r for r in good if isinstance(r.event, BATCH_EVENTS)])
        await run.learners(
            [r for r in good if not isinstance(r.event, (CoursePublished, *BATCH_EVENTS))]
        )
        report.enrolments_written = run.enrolments_written
        # Counts are recounted when idle (or every few seconds): scanning per poll is costly.
        await self._stores.counts.mark_stale(run.touched)
        # Persisted. Now publish.
        await self._publisher.dead_letter(letters)
        report.dead_letters = len(letters)
        await self._announce(run.outboxed.values(), report)
        return report

    async def idle(self) -> None:
        """Recount the batches marked stale. Called when a poll brings nothing, every few
        seconds while busy, and at shutdown, so counts are exact once the service is idle."""
        await self._stores.counts.recount_stale()

    async def relay_pending(self, limit: int = 500) -> list[str]:
        """Publish every announcement still in an outbox (after a crash, or a failed
        publish), then remove it there. Returns the event ids published."""
        report = Report()
        while docs := await self._stores.outbox.pending(limit):
            await self._announce(docs, report)
            if len(docs) < limit:
                break
        return report.certificates

    async def _announce(self, docs: Iterable[EnrolmentDoc], report: Report) -> None:
        docs = [d for d in docs if d.outbox]
        events = [e for d in docs for e in d.outbox]
        if not events:
            return
        await self._publisher.publish_certificates(events)
        await self._stores.outbox.acknowledge({d.key: {e.id for e in d.outbox} for d in docs})
        report.certificates += [e.id for e in events]
