"""Orchestration: load the affected documents, fold, save with optimistic concurrency, publish.

The order is the service's promise: persist (documents, with certificate events in their
outbox), then publish (dead letters, certificate events), then the caller commits offsets.
Every step can be repeated after a crash: the fold is idempotent and the outbox survives.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import reduce

from schemas.documents import BatchDoc, CourseDoc, EnrolmentDoc, enrolment_key
from schemas.events import BatchCancelled, BatchCreated, BatchUpdated, CoursePublished, LearnerEvent
from services.domain import (
    apply_batch_event,
    apply_course_event,
    fold_learner,
    refresh,
    rules_differ,
)
from services.errors import ConflictPersisted
from services.ports import DeadLetter, EventPublisher, Received, Store

__all__ = ["Pipeline", "Report"]

_BATCH_EVENTS = (BatchCreated, BatchUpdated, BatchCancelled)
Context = tuple[dict[str, BatchDoc], dict[str, CourseDoc]]
Make = Callable[[str, EnrolmentDoc | None, Context], EnrolmentDoc]


@dataclass
class Report:
    """What one call did, for logs and progress displays."""

    events: int = 0
    dead_letters: int = 0
    enrolments_written: int = 0
    certificates: list[str] = field(default_factory=list)


class Pipeline:
    """Folds batches of received records into the store and publishes what follows."""

    def __init__(self, store: Store, publisher: EventPublisher, *, max_rounds: int = 25) -> None:
        self._store = store
        self._publisher = publisher
        self._max_rounds = max_rounds

    async def handle(self, received: Sequence[Received]) -> Report:
        """Persist, then publish. Returns once both are durable; the caller then commits."""
        report = Report(events=len(received))
        run = _Run(self._store, self._max_rounds, report)
        letters = [DeadLetter(r, r.reason or "invalid") for r in received if r.event is None]
        good = [r for r in received if r.event is not None]
        await run.courses([r for r in good if isinstance(r.event, CoursePublished)])
        letters += await run.batches([r for r in good if isinstance(r.event, _BATCH_EVENTS)])
        await run.learners(
            [r for r in good if not isinstance(r.event, (CoursePublished, *_BATCH_EVENTS))]
        )
        # Counts are recounted when idle (or every few seconds): scanning per poll is costly.
        await self._store.mark_counts_stale(run.touched)
        # Persisted. Now publish.
        await self._publisher.dead_letter(letters)
        report.dead_letters = len(letters)
        await self._announce(run.outboxed.values(), report)
        return report

    async def idle(self) -> None:
        """Recount the batches marked stale. Called when a poll brings nothing, every few
        seconds while busy, and at shutdown, so counts are exact once the service is idle."""
        await self._store.recount_stale()

    async def relay_pending(self, limit: int = 500) -> list[str]:
        """Publish every certificate event still in an outbox (after a crash, or a failed
        publish), then remove it there. Returns the event ids published."""
        report = Report()
        while docs := await self._store.pending_outbox(limit):
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
        await self._store.ack_outbox({d.key: {str(e["id"]) for e in d.outbox} for d in docs})
        report.certificates += [str(e["id"]) for e in events]


class _Run:
    """The state of one `handle` call."""

    def __init__(self, store: Store, max_rounds: int, report: Report) -> None:
        self.store = store
        self.max_rounds = max_rounds
        self.report = report
        self.touched: set[str] = set()
        self.outboxed: dict[str, EnrolmentDoc] = {}

    async def courses(self, received: list[Received]) -> None:
        by_course: dict[str, list[CoursePublished]] = defaultdict(list)
        for r in received:
            assert isinstance(r.event, CoursePublished)
            by_course[r.event.data.courseId].append(r.event)
        for course_id, events in by_course.items():
            if await self._save_course(course_id, events):
                for batch_id in await self.store.batch_ids_of_course(course_id):
                    await self.refresh_batch(batch_id)

    async def _save_course(self, course_id: str, events: list[CoursePublished]) -> bool:
        for _ in range(self.max_rounds):
            old = (await self.store.get_courses([course_id])).get(course_id)
            new = reduce(apply_course_event, events, old)
            if new is None or new == old:
                return False
            if await self.store.save_course(new):
                return True
        raise ConflictPersisted(f"course {course_id!r}")

    async def batches(self, received: list[Received]) -> list[DeadLetter]:
        by_batch: dict[str, list[Received]] = defaultdict(list)
        for r in sorted(received, key=lambda r: (r.partition, r.offset)):
            assert isinstance(r.event, _BATCH_EVENTS)
            by_batch[r.event.data.batchId].append(r)
        letters: list[DeadLetter] = []
        for batch_id, items in by_batch.items():
            letters += await self._save_batch(batch_id, items)
        return letters

    async def _save_batch(self, batch_id: str, items: list[Received]) -> list[DeadLetter]:
        for _ in range(self.max_rounds):
            old = (await self.store.get_batches([batch_id])).get(batch_id)
            new, letters = old, []
            for r in items:
                assert isinstance(r.event, _BATCH_EVENTS)
                change = apply_batch_event(new, r.event, r.partition, r.offset)
                new = change.batch
                if change.rejection is not None:
                    letters.append(DeadLetter(r, change.rejection.reason, r.event.id))
            if new is None or new == old:
                return letters
            if await self.store.save_batch(new):
                self.touched.add(batch_id)
                if rules_differ(old, new):
                    await self.refresh_batch(batch_id)
                return letters
        raise ConflictPersisted(f"batch {batch_id!r}")

    async def refresh_batch(self, batch_id: str) -> None:
        """Evaluate every learner of the batch again (its rules or its course changed)."""
        docs = await self.store.enrolments_of_batch(batch_id)
        self.touched.add(batch_id)
        await self.converge({d.key for d in docs}, lambda _k, doc, ctx: _refreshed(doc, ctx))

    async def learners(self, received: list[Received]) -> None:
        by_key: dict[str, list[LearnerEvent]] = defaultdict(list)
        for r in received:
            event = r.event
            assert event is not None and not isinstance(event, (CoursePublished, *_BATCH_EVENTS))
            by_key[enrolment_key(event.data.batchId, event.data.userId)].append(event)

        def make(key: str, doc: EnrolmentDoc | None, ctx: Context) -> EnrolmentDoc:
            events = by_key[key]
            doc = doc or EnrolmentDoc(batchId=events[0].data.batchId, userId=events[0].data.userId)
            batch, course = _rules(doc.batchId, ctx)
            return fold_learner(doc, events, batch, course)

        await self.converge(set(by_key), make)

    async def converge(self, keys: set[str], make: Make) -> None:
        """Fold and save until every document is saved against the rules that are current.

        A save conflicts when another writer changed the document since we read it; a save can
        also be stale when the batch or course changed meanwhile. Both are folded again.
        """
        pending = set(keys)
        for _ in range(self.max_rounds):
            if not pending:
                return
            docs = await self.store.get_enrolments(pending)
            ctx = await self._context({k.split("\n", 1)[0] for k in pending})
            changed = [
                new for key in pending if (new := make(key, docs.get(key), ctx)) != docs.get(key)
            ]
            conflicts = await self.store.save_enrolments(changed)
            saved = [d for d in changed if d.key not in conflicts]
            self.report.enrolments_written += len(saved)
            self.outboxed.update((d.key, d) for d in saved if d.outbox)
            self.touched.update(d.batchId for d in saved)
            stale = _stale(ctx, await self._context({d.batchId for d in saved}))
            pending = conflicts | {d.key for d in saved if d.batchId in stale}
        raise ConflictPersisted(f"{len(pending)} enrolments kept conflicting")

    async def _context(self, batch_ids: set[str]) -> Context:
        batches = await self.store.get_batches(batch_ids)
        courses = await self.store.get_courses({b.courseId for b in batches.values()})
        return batches, courses


def _rules(batch_id: str, ctx: Context) -> tuple[BatchDoc | None, CourseDoc | None]:
    batch = ctx[0].get(batch_id)
    return batch, ctx[1].get(batch.courseId) if batch else None


def _refreshed(doc: EnrolmentDoc | None, ctx: Context) -> EnrolmentDoc:
    assert doc is not None  # refresh only touches documents that exist
    return refresh(doc, *_rules(doc.batchId, ctx))


def _stale(before: Context, after: Context) -> set[str]:
    """Batches whose rules (the batch or its course) changed between two reads."""

    def version(ctx: Context, batch_id: str) -> tuple[str | None, str | None]:
        batch, course = _rules(batch_id, ctx)
        return (batch.rev if batch else None, course.rev if course else None)

    return {b for b in after[0] if version(before, b) != version(after, b)}
