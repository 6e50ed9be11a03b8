"""Orchestration: load the affected documents, fold, save with optimistic concurrency, publish.

The order is the service's promise: persist (documents, with announcements in their outbox),
then publish (dead letters, announcements), then the caller commits offsets. Every step can
be repeated after a crash: the fold is idempotent and the outbox survives.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from schemas.documents import BatchDoc, EnrolmentDoc, enrolment_key
from schemas.events import CoursePublished
from schemas.outbound import TRACEPARENT
from services.clock import SystemClock
from services.convergence import BATCH_EVENTS, PollFold
from services.domain import auto_cancel_due, auto_cancellation, batch_status
from services.errors import DocumentKeptChanging
from services.observing import QUIET
from services.ports import Clock, DeadLetter, EventPublisher, Observer, Received, Stores

__all__ = ["Pipeline", "Report"]


@dataclass
class Report:
    """What one call did, for logs and progress displays."""

    events: int = 0
    dead_letters: int = 0
    letters: list[tuple[str, str]] = field(default_factory=list)  # (source topic, reason)
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
        observer: Observer = QUIET,
        max_rounds: int = 25,
        auto_cancel_grace_s: float = 300.0,
        ack_delay_s: float = 0.0,
        relay_min_age_s: float = 0.0,
    ) -> None:
        self._stores = stores
        self._publisher = publisher
        self._clock = clock or SystemClock()
        self._observer = observer
        self._max_rounds = max_rounds
        self._grace_s = auto_cancel_grace_s
        self._ack_delay_s = ack_delay_s  # published entries removed with the next write, or then
        self._relay_min_age_s = relay_min_age_s
        self._refresh_per_call = 20  # marked batches settled per idle call (an upgrade marks all)
        self._published: dict[str, float] = {}  # automatic cancellations: id -> when
        self._unannounced: dict[str, EnrolmentDoc] = {}  # saved by a failed attempt
        self._instance = uuid.uuid4().hex  # whose refresh marks idle takes at any age

    async def handle(self, received: Sequence[Received]) -> Report:
        """Persist, then publish. Returns once both are durable; the caller then commits."""
        report = Report(events=len(received))
        run = self._poll_fold()
        try:
            await self._fold_and_publish(received, run, report)
        except BaseException:
            # What this attempt saved is persisted with its announcements: the next attempt
            # (the retry of the same records, which finds nothing left to write) publishes them.
            self._unannounced.update(run.outboxed)
            raise
        self._unannounced = {}
        return report

    async def _fold_and_publish(
        self, received: Sequence[Received], run: PollFold, report: Report
    ) -> None:
        letters = [DeadLetter(r, r.reason or "invalid") for r in received if r.event is None]
        good = [r for r in received if r.event is not None]
        learners = [r for r in good if not isinstance(r.event, (CoursePublished, *BATCH_EVENTS))]
        with self._observer.step("fold"):
            await run.courses([r for r in good if isinstance(r.event, CoursePublished)])
            letters += await run.batches([r for r in good if isinstance(r.event, BATCH_EVENTS)])
            await run.learners(learners)
            # Counts are recounted when idle (or every few seconds): scanning per poll is costly.
            # Marked for every batch the records name, not only those written now: a retry or
            # a restart after a failed mark finds its documents written and writes nothing.
            await self._stores.counts.mark_stale(run.touched | _batches_named(good))
        report.enrolments_written = run.enrolments_written
        # Persisted. Now publish.
        with self._observer.step("publish"):
            await self._publisher.dead_letter(letters)
        self._observer.dead_lettered(letters)
        report.dead_letters = len(letters)
        report.letters = [(d.source.topic, d.reason) for d in letters]
        outboxed = {**self._unannounced, **run.outboxed}
        await self._announce(outboxed.values(), report, _facts_by_learner(learners))
        await self._flush(self._ack_delay_s)

    async def idle(self, quiet: bool = True) -> None:
        """Finish work a crash left behind (batches marked for re-evaluation), remove published
        entries from their outboxes (all of them when `quiet`: nothing waits to be folded),
        then recount the batches marked stale. Called when a poll brings nothing, every few
        seconds while busy, and at shutdown, so documents and counts are exact once idle."""
        # Another instance's young marks are its own work in progress (`relay_min_age_s`,
        # the same reasoning as the relay's): taken once old, as left behind by a crash.
        pending = await self._stores.refresh.pending(self._instance, self._relay_min_age_s)
        for batch_id in sorted(pending)[: self._refresh_per_call]:
            run = self._poll_fold()
            await run.refresh_batches([batch_id])
            await self._stores.counts.mark_stale(run.touched)
            await self._announce(run.outboxed.values(), Report())
            await self._stores.refresh.clear(pending[batch_id])
        await self._flush(0.0 if quiet else self._ack_delay_s)
        await self._stores.counts.recount_stale()

    async def _flush(self, older_than_s: float) -> None:
        with self._observer.step("acknowledge"):
            await self._stores.outbox.flush(older_than_s)

    async def tick(self) -> Report:
        """The clock's work (contract 8): keep each batch's `status` current, and publish the
        automatic cancellation of batches whose minimum capacity was not met by the deadline.
        Called every `status_refresh_s`."""
        now = self._clock.now()
        for stored in ("upcoming", "ongoing", None):
            for batch in await self._stores.documents.batches_with_status(stored):
                await self._refresh_status(batch, now)
        report = Report()
        for batch in await self._stores.documents.batches_to_auto_cancel():
            if not auto_cancel_due(batch, now, self._grace_s):
                continue  # its roster is read only once the deadline and its grace passed
            requests = await self._stores.documents.open_requests(batch.batchId)
            event = auto_cancellation(batch, requests, now, self._grace_s)
            if event is not None and not self._published_lately(event.id):
                await self._publisher.publish_fact(event)
                report.facts_published.append(event.id)
        return report

    async def _refresh_status(self, batch: BatchDoc, now: datetime) -> None:
        """Save the batch's status as of `now`; a save lost to another writer (the fold, a
        recount) is tried again on the batch as it is now."""
        for _ in range(self._max_rounds):
            status = batch_status(batch, now)
            if status == batch.status:
                return
            if await self._stores.documents.save_batch(batch.model_copy(update={"status": status})):
                return
            found = (await self._stores.documents.get_batches([batch.batchId])).get(batch.batchId)
            if found is None:
                return
            batch = found
        raise DocumentKeptChanging(f"batch {batch.batchId!r} (status)")

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
        self._unannounced = {}  # the relay takes them, with everything else pending
        while docs := await self._stores.outbox.pending(limit, self._relay_min_age_s):
            await self._announce(docs, report)
            await self._flush(0.0)
            if len(docs) < limit:
                break
        return report.announced

    def _poll_fold(self) -> PollFold:
        return PollFold(self._stores, self._max_rounds, self._clock, self._observer, self._instance)

    async def _announce(
        self,
        docs: Iterable[EnrolmentDoc],
        report: Report,
        facts: Mapping[str, Sequence[Received]] | None = None,
    ) -> None:
        """Publish the outboxes of these documents, then empty them. `facts`: each learner's
        facts in this poll, which decided the announcements (their trace context and time go
        with them)."""
        docs = [d for d in docs if d.outbox]
        events = [e for d in docs for e in d.outbox]
        if not events:
            return
        traces: dict[str, str] = {}
        times: dict[str, int] = {}
        for doc in docs:
            deciding = (facts or {}).get(doc.key, ())
            trace, at = _trace_of(deciding), max((r.timestamp_ms or 0 for r in deciding), default=0)
            for event in doc.outbox:
                if trace:
                    traces[event.id] = trace
                if at:
                    times[event.id] = at
        with self._observer.step("publish"):
            await self._publisher.announce(events, traces)
        self._observer.announced(events, times)
        await self._stores.outbox.acknowledge({d.key: {e.id for e in d.outbox} for d in docs})
        report.announced += [e.id for e in events]
        report.certificates += [e.id for e in events if e.type == "certificate.eligible"]


def _batches_named(received: Sequence[Received]) -> set[str]:
    """The batches that batch events and learner facts name (a course names none)."""
    return {
        r.event.data.batchId
        for r in received
        if r.event is not None and not isinstance(r.event, CoursePublished)
    }


def _facts_by_learner(received: Sequence[Received]) -> dict[str, list[Received]]:
    by_key: dict[str, list[Received]] = {}
    for r in received:
        assert r.event is not None and not isinstance(r.event, (CoursePublished, *BATCH_EVENTS))
        by_key.setdefault(enrolment_key(r.event.data.batchId, r.event.data.userId), []).append(r)
    return by_key


def _trace_of(facts: Sequence[Received]) -> str | None:
    """The trace context of the fact that decided: of the learner's facts in the poll that
    carry one, the latest in business time (the one that completed the learner, typically)."""
    traced = [(r.event.time, i, tp) for i, r in enumerate(facts) if r.event and (tp := _header(r))]
    return max(traced)[2] if traced else None


def _header(received: Received) -> str | None:
    for key, value in received.headers:
        if key == TRACEPARENT and value:
            return value.decode("ascii", "replace")
    return None
