"""Orchestration: load the affected documents, fold, save with optimistic concurrency, publish.

The order is the service's promise: persist (documents, with announcements in their outbox),
then publish (dead letters, announcements), then the caller commits offsets. Every step can
be repeated after a crash: the fold is idempotent and the outbox survives.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from schemas.documents import EnrolmentDoc
from schemas.events import CoursePublished
from services.clock import SystemClock
from services.convergence import BATCH_EVENTS, PollFold
from services.domain import auto_cancellation, batch_status
from services.ports import Clock, DeadLetter, EventPublisher, Received, Stores

__all__ = ["Pipeline", "Report"]


@dataclass
class Report:
    """What one call did, for logs and progress displays."""

    events: int = 0
    dead_letters: int = 0
    enrolments_written: int = 0
    announced: list[str] = field(default_factory=list)  # event ids of every announcement
    certificates: list[str] = field(default_factory=list)  # those of certificate.eligible
    facts_published: list[str] = field(default_factory=list)  # automatic cancellations


class Pipeline:
    """Folds batches of received records into the store and publishes what follows."""

    def __init__(
        self,
        stores: Stores,
        publisher: EventPublisher,
        *,
        clock: Clock | None = None,
        max_rounds: int = 25,
        auto_cancel_grace_s: float = 300.0,
    ) -> None:
        self._stores = stores
        self._publisher = publisher
        self._clock = clock or SystemClock()
        self._max_rounds = max_rounds
        self._grace_s = auto_cancel_grace_s
        self._refresh_per_call = 20  # marked batches settled per idle call (an upgrade marks all)
        self._published: dict[str, float] = {}  # automatic cancellations: id -> when

    async def handle(self, received: Sequence[Received]) -> Report:
        """Persist, then publish. Returns once both are durable; the caller then commits."""
        report = Report(events=len(received))
        run = self._poll_fold()
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
        """Finish work a crash left behind (batches marked for re-evaluation), then recount
        the batches marked stale. Called when a poll brings nothing, every few seconds while
        busy, and at shutdown, so counts are exact once the service is idle."""
        pending = await self._stores.refresh.pending()
        for batch_id in sorted(pending)[: self._refresh_per_call]:
            run = self._poll_fold()
            await run.refresh_batches([batch_id])
            await self._stores.counts.mark_stale(run.touched)
            await self._announce(run.outboxed.values(), Report())
            await self._stores.refresh.clear(pending[batch_id])
        await self._stores.counts.recount_stale()

    async def tick(self) -> Report:
        """The clock's work (contract 8): keep each batch's `status` current, and publish the
        automatic cancellation of batches whose minimum capacity was not met by the deadline.
        Called every `status_refresh_s`."""
        now = self._clock.now()
        for stored in ("upcoming", "ongoing", None):
            for batch in await self._stores.documents.batches_with_status(stored):
                status = batch_status(batch, now)
                if status != batch.status:
                    await self._stores.documents.save_batch(
                        batch.model_copy(update={"status": status})
                    )
        report = Report()
        for batch in await self._stores.documents.batches_to_auto_cancel():
            roster = await self._stores.documents.enrolments_of_batch(batch.batchId)
            event = auto_cancellation(batch, (d.request for d in roster), now, self._grace_s)
            if event is not None and not self._published_lately(event.id):
                await self._publisher.publish_fact(event)
                report.facts_published.append(event.id)
        return report

    def _published_lately(self, event_id: str) -> bool:
        """Whether this process published the fact less than a minute ago: it may simply not
        be folded yet (publishing it again is harmless, same id, but pointless)."""
        now = time.monotonic()
        self._published = {e: t for e, t in self._published.items() if now - t < 60}
        if event_id in self._published:
            return True
        self._published[event_id] = now
        return False

    async def relay_pending(self, limit: int = 500) -> list[str]:
        """Publish every announcement still in an outbox (after a crash, or a failed
        publish), then remove it there. Returns the event ids published."""
        report = Report()
        while docs := await self._stores.outbox.pending(limit):
            await self._announce(docs, report)
            if len(docs) < limit:
                break
        return report.announced

    def _poll_fold(self) -> PollFold:
        return PollFold(self._stores, self._max_rounds, self._clock.now())

    async def _announce(self, docs: Iterable[EnrolmentDoc], report: Report) -> None:
        docs = [d for d in docs if d.outbox]
        events = [e for d in docs for e in d.outbox]
        if not events:
            return
        await self._publisher.announce(events)
        await self._stores.outbox.acknowledge({d.key: {e.id for e in d.outbox} for d in docs})
        report.announced += [e.id for e in events]
        report.certificates += [e.id for e in events if e.type == "certificate.eligible"]
