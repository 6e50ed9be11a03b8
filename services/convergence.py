"""One poll's fold: rule events first, then learners, each saved until it is saved against the
rules that are current (other instances may change a batch, a course or a roster meanwhile)."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import reduce

from schemas.documents import EnrolmentDoc, batch_of_key, enrolment_key
from schemas.events import (
    BatchCancelled,
    BatchCreated,
    BatchEvent,
    BatchUpdated,
    CoursePublished,
    LearnerEvent,
)
from schemas.outbound import REDRIVEN_FROM
from services.domain import (
    Redriven,
    add_facts,
    apply_batch_events,
    apply_course_event,
    batch_status,
    needs_whole_roster,
    rules_differ,
    settle,
)
from services.errors import DocumentKeptChanging
from services.observing import QUIET
from services.ordering import in_batch_order
from services.ports import Clock, DeadLetter, Observer, Received, Stores
from services.rules_snapshot import RulesSnapshot

__all__ = ["BATCH_EVENTS", "PollFold"]

BATCH_EVENTS = (BatchCreated, BatchUpdated, BatchCancelled)
ROSTER_LOCK_TTL_S = 30.0  # a settle takes milliseconds; a crashed holder delays this long
Facts = Mapping[str, Sequence[LearnerEvent]]


class PollFold:
    """The state of one `Pipeline.handle` call: what was touched and what was decided."""

    def __init__(
        self,
        stores: Stores,
        max_rounds: int,
        clock: Clock,
        observer: Observer = QUIET,
        owner: str = "",
    ) -> None:
        self.stores = stores
        self.owner = owner  # the instance whose refresh marks these are
        self.observer = observer
        self.documents = stores.documents
        self.max_rounds = max_rounds
        self.clock = clock
        self.now = clock.now()  # the learners' rules are judged at one instant per poll
        self.touched: set[str] = set()
        self.outboxed: dict[str, EnrolmentDoc] = {}
        self.enrolments_written = 0
        self.holder = uuid.uuid4().hex  # who holds the roster locks this fold takes

    async def courses(self, received: list[Received]) -> None:
        """Apply `course.published` events, then re-evaluate the batches of changed courses."""
        by_course: dict[str, list[CoursePublished]] = defaultdict(list)
        for r in received:
            assert isinstance(r.event, CoursePublished)
            by_course[r.event.data.courseId].append(r.event)
        for course_id, events in by_course.items():
            await self._save_course(course_id, events)

    async def _save_course(self, course_id: str, events: list[CoursePublished]) -> None:
        for _ in range(self.max_rounds):
            old = (await self.documents.get_courses([course_id])).get(course_id)
            new = reduce(apply_course_event, events, old)
            if new is None or new == old:
                return
            batch_ids = await self.documents.batch_ids_of_course(course_id)
            marks = await self.stores.refresh.mark(batch_ids, self.owner)  # a crash leaves them
            if await self.documents.save_course(new):
                await self.refresh_batches(batch_ids)
                await self.stores.refresh.clear(marks)
                return
        raise DocumentKeptChanging(f"course {course_id!r}")

    async def batches(self, received: list[Received]) -> list[DeadLetter]:
        """Apply the events of `lms.batch.v1`; returns the rejected ones as dead letters."""
        by_batch: dict[str, list[Received]] = defaultdict(list)
        for r in received:
            assert isinstance(r.event, BATCH_EVENTS)
            by_batch[r.event.data.batchId].append(r)
        letters: list[DeadLetter] = []
        for batch_id, items in by_batch.items():
            letters += await self._save_batch(batch_id, in_batch_order(items))
        return letters

    async def _save_batch(self, batch_id: str, items: list[Received]) -> list[DeadLetter]:
        arrivals = [_arrival(r) for r in items]
        events = [r.event for r in items if isinstance(r.event, BATCH_EVENTS)]
        ids = [e.id for e in events]
        source = {id(r.event): r for r in items}
        for _ in range(self.max_rounds):
            old = (await self.documents.get_batches([batch_id])).get(batch_id)
            applied = await self.documents.applied_batch_events(batch_id, ids)
            # Read again, rejected before: a redriven one is tried again, another one's letter
            # is sent again.
            refused = await self._rejected(batch_id, applied)
            fold = apply_batch_events(old, arrivals, applied, refused)
            new = fold.batch
            if new is not None:
                # As of this save, not of the poll's start: the clock's work runs beside a
                # long poll and must not see its newer status written back older.
                new = new.model_copy(update={"status": batch_status(new, self.clock.now())})
            letters = [DeadLetter(source[id(e)], why.reason, e.id) for e, why in fold.rejected]
            letters += _lettered_again(items, refused, fold.consumed)
            differ = rules_differ(old, new)
            marks = await self.stores.refresh.mark([batch_id], self.owner) if differ else []
            if new is not None and new != old:
                new = new.model_copy(update={"appliedEvents": tuple(fold.consumed)})
                if not await self.documents.save_batch(new):
                    continue  # another writer changed the batch: fold again
                self.touched.add(batch_id)
            # Remembered after the save: a crash in between re-applies the newest events of
            # the batch once more, in order, which leaves it as it is, but for a rule check
            # that depends on what a later event of the poll changed (design.md, known gap).
            reasons = {e.id: why.reason for e, why in fold.rejected if e.id in fold.refused}
            await self.documents.remember_batch_events(batch_id, fold.consumed, reasons)
            if marks:
                await self.refresh_batches([batch_id])
                await self.stores.refresh.clear(marks)
            return letters
        raise DocumentKeptChanging(f"batch {batch_id!r}")

    async def _rejected(self, batch_id: str, read_again: set[str]) -> dict[str, str]:
        if not read_again:  # the common case: no read
            return {}
        return await self.documents.rejected_batch_events(batch_id, read_again)

    async def refresh_batches(self, batch_ids: Sequence[str]) -> None:
        """Evaluate every learner of these batches again (their rules or course changed); their
        counts are marked for a recount before the caller clears its refresh marks: a crash
        after that clear leaves nothing that would mark them."""
        self.touched.update(batch_ids)
        await self.converge({}, rosters=set(batch_ids))
        await self.stores.counts.mark_stale(batch_ids)

    async def learners(self, received: list[Received]) -> None:
        """Fold learner facts into their enrolment documents."""
        facts: dict[str, list[LearnerEvent]] = defaultdict(list)
        for r in received:
            event = r.event
            assert event is not None and not isinstance(event, (CoursePublished, *BATCH_EVENTS))
            facts[enrolment_key(event.data.batchId, event.data.userId)].append(event)
        await self.converge(facts)

    async def converge(self, facts: Facts, rosters: set[str] | None = None) -> None:
        """Fold and save until every document is saved against the rules that are current.

        `facts`: learner facts to add, by enrolment key. `rosters`: batches whose every learner
        is settled again. A batch with `maximumCapacity` is always settled whole (one seat
        depends on every request), under its roster lock, so that no decision is taken on a
        roster another writer is halfway through. A save conflicts when another writer changed
        a document since we read it; a save is stale when the batch or course changed
        meanwhile. Both are folded again.
        """
        keys, whole = set(facts), set(rosters or ())
        for _ in range(self.max_rounds):
            if not keys and not whole:
                return
            rules = await self._rules({batch_of_key(k) for k in keys} | whole)
            whole |= {b for b in rules.batches if needs_whole_roster(rules.batches[b])}
            async with self._rosters_locked(whole):
                with self.observer.step("load"):
                    docs = await self._load(keys, whole)
                changed = self._settled(docs, keys, facts, rules)
                with self.observer.step("save"):
                    conflicts = await self.documents.save_enrolments(changed)
            saved = [d for d in changed if d.key not in conflicts]
            self._record(saved)
            stale = (await self._rules({d.batchId for d in saved})).changed_since(rules)
            retry = {batch_of_key(k) for k in conflicts} | stale
            keys = conflicts | {d.key for d in saved if d.batchId in stale}
            keys = {k for k in keys if batch_of_key(k) not in whole}  # whole ones come again
            whole &= retry
            keys |= {k for k in facts if batch_of_key(k) in whole}
        raise DocumentKeptChanging(f"{len(keys)} enrolments and {len(whole)} rosters kept changing")

    @asynccontextmanager
    async def _rosters_locked(self, batch_ids: set[str]) -> AsyncIterator[None]:
        """Hold the locks of these rosters (taken in order, all or none, waiting while
        another writer holds one)."""
        locks, wanted = self.stores.locks, sorted(batch_ids)
        waited, pause = 0.0, 0.02
        while True:
            held = []
            for batch_id in wanted:
                if not await locks.acquire(batch_id, self.holder, ROSTER_LOCK_TTL_S):
                    break
                held.append(batch_id)
            if len(held) == len(wanted):
                break
            for batch_id in held:
                await locks.release(batch_id, self.holder)
            if waited > 2 * ROSTER_LOCK_TTL_S:
                raise DocumentKeptChanging(f"rosters {wanted} stayed locked")
            await asyncio.sleep(pause)
            waited, pause = waited + pause, min(pause * 2, 0.5)
        try:
            yield
        finally:
            for batch_id in held:
                await locks.release(batch_id, self.holder)

    async def _load(self, keys: set[str], whole: set[str]) -> dict[str, EnrolmentDoc]:
        """The documents of these keys, and every document of the `whole` batches."""
        docs = await self.documents.get_enrolments(
            (k for k in keys if batch_of_key(k) not in whole), may_guess_new=True
        )
        for batch_id in whole:
            docs.update((d.key, d) for d in await self.documents.enrolments_of_batch(batch_id))
        return docs

    def _settled(
        self, docs: dict[str, EnrolmentDoc], keys: set[str], facts: Facts, rules: RulesSnapshot
    ) -> list[EnrolmentDoc]:
        """The documents that change: facts added, then settled batch by batch."""
        by_batch: dict[str, list[EnrolmentDoc]] = defaultdict(list)
        for key in keys | set(docs):
            doc = docs.get(key) or _new(key, facts[key])
            by_batch[doc.batchId].append(add_facts(doc, facts.get(key, ())))
        changed = []
        for batch_id, group in by_batch.items():
            for new in settle(group, *rules.of(batch_id), self.now):
                if new != docs.get(new.key):
                    changed.append(new)
        return changed

    def _record(self, saved: list[EnrolmentDoc]) -> None:
        self.enrolments_written += len(saved)
        self.outboxed.update((d.key, d) for d in saved if d.outbox)
        self.touched.update(d.batchId for d in saved)

    async def _rules(self, batch_ids: set[str]) -> RulesSnapshot:
        batches = await self.documents.get_batches(batch_ids)
        courses = await self.documents.get_courses({b.courseId for b in batches.values()})
        return RulesSnapshot(batches, courses)


def _arrival(received: Received) -> BatchEvent | Redriven:
    """A batch event as it arrived: sent back by an operator's redrive, or not."""
    event = received.event
    assert isinstance(event, BATCH_EVENTS)
    if any(key == REDRIVEN_FROM for key, _ in received.headers):
        return Redriven(event)
    return event


def _lettered_again(
    items: list[Received], refused: Mapping[str, str], consumed: Collection[str]
) -> list[DeadLetter]:
    """The dead letters of events rejected when first folded and read again, which the fold
    skips as consumed: sent again with the reason kept (the first may never have gone out: a
    failed send, a crash before it; at least once, as every letter). A redriven copy is not
    among them: the fold tries it again."""
    done = set(consumed)
    again: list[DeadLetter] = []
    for r in items:
        arrival = _arrival(r)
        if isinstance(arrival, Redriven):
            continue
        if arrival.id in refused and arrival.id not in done:
            again.append(DeadLetter(r, refused[arrival.id], arrival.id))
    return again


def _new(key: str, events: Sequence[LearnerEvent]) -> EnrolmentDoc:
    """A learner's first document, named by its first fact."""
    assert events, f"no document and no fact for {key!r}"
    return EnrolmentDoc(batchId=events[0].data.batchId, userId=events[0].data.userId)
