"""Seeded streams for batches with seats (contract 7) and a minimum (contract 8).

Enrolments are published in request-time order (one partition per batch: they are keyed by
batchId), so a seat once given is never taken back by an earlier request that arrives late;
the learners who leave never complete (their cancellation always counts). Completions and
progress come in any order. Under those two conditions the certificates a run announces do
not depend on arrival order, so they can be checked exactly; enrolment statuses are checked
as the contract's latch allows (`testkit.expect.assert_status_events`).
"""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.events import event_adapter
from testkit.world import World

__all__ = ["SeatStream", "generate_seat_stream"]

Event = dict[str, Any]
BASE = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class SeatStream:
    """Rules, enrolments in request order, then the rest (completions, leavings)."""

    rules: list[Event] = field(default_factory=list)
    enrolments: list[Event] = field(default_factory=list)
    completions: list[Event] = field(default_factory=list)
    leavings: list[Event] = field(default_factory=list)

    def published(self, seed: int, duplicates: float = 0.15) -> list[Event]:
        """The order a run publishes in: rules, enrolments in order interleaved with the
        shuffled completions (some twice), and the leavings last, in order."""
        rnd = random.Random(seed)
        again = rnd.sample(self.completions, int(len(self.completions) * duplicates))
        rest = self.completions + again
        rnd.shuffle(rest)
        merged: list[Event] = []
        queue = list(self.enrolments)
        for item in rest:
            while queue and rnd.random() < 0.5:
                merged.append(queue.pop(0))
            merged.append(item)
        return [*self.rules, *merged, *queue, *self.leavings]

    def expected(self, now: datetime, order: list[Event], grace_s: float = 0.0) -> World:
        """The pure fold of `order` at the clock `now`, automatic cancellations applied."""
        world = World(now=now)
        for raw in order:
            world.apply(event_adapter.validate_json(json.dumps(raw).encode()))
        for cancel in world.auto_cancellations(grace_s):
            world.apply(cancel)
        return world


def generate_seat_stream(
    seed: int = 1, batches: int = 2, learners: int = 12, capacity: int = 5
) -> SeatStream:
    """`batches` batches of `capacity` seats with a waitlist, one more without (refusals),
    and one that asks for more learners than it gets (automatically cancelled: its start is
    long past); `learners` learners each, a third of whom leave without completing."""
    rnd = random.Random(seed)
    ids = itertools.count()
    stream = SeatStream()

    def ev(event_type: str, when: datetime, **data: Any) -> Event:
        stamp = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
        return {
            "specversion": "1.0",
            "id": f"{event_type}-{seed}-{next(ids)}",
            "source": "tests",
            "time": stamp,
            "type": event_type,
            "data": data,
        }

    leaves = ["part-1", "part-2"]
    stream.rules.append(
        ev("course.published", BASE, courseId=f"seats-{seed}", leafNodes=leaves, assessments=[])
    )
    shapes: list[dict[str, Any]] = [
        {"maximumCapacity": capacity, "allowWaitlisting": True}
    ] * batches
    doomed = {
        "minimumCapacity": learners + 1,
        "cancelBatchWhenMinimumCapacityIsNotMet": True,
        "waitingTimeForCancellation": 1,
    }
    shapes += [{"maximumCapacity": capacity}, doomed]
    for b, shape in enumerate(shapes):
        batch_id = f"seats.{seed}.{b} $"
        stream.rules.append(
            ev(
                "batch.created",
                BASE,
                batchId=batch_id,
                courseId=f"seats-{seed}",
                name=f"Seats {b}",
                enrollmentType="open",
                startDate="2026-01-15",
                endDate="2026-06-30",
                enrollmentEndDate=None,
                mentors=["mentor-1"],
                certificateTemplates=[{"templateId": "done", "criteria": {}}],
                **shape,
            )
        )
        # The doomed batch's learners never complete: when its cancellation arrives (the
        # service's first tick after the batch exists) must not decide a certificate.
        completing = [] if "minimumCapacity" in shape else leaves
        _learners(rnd, ev, stream, batch_id, learners, completing)
    return stream


def _learners(
    rnd: random.Random,
    ev: Any,
    stream: SeatStream,
    batch_id: str,
    count: int,
    leaves: list[str],
) -> None:
    times = sorted(BASE + timedelta(days=rnd.uniform(1, 12)) for _ in range(count))
    for n, requested in enumerate(times):
        user = f"learner-{n} é"
        stream.enrolments.append(ev("enrolment.created", requested, batchId=batch_id, userId=user))
        if rnd.random() < 0.33:
            left = requested + timedelta(days=rnd.uniform(1, 20))
            stream.leavings.append(ev("enrolment.cancelled", left, batchId=batch_id, userId=user))
            continue
        for leaf in leaves:
            if rnd.random() < 0.85:
                done = requested + timedelta(days=rnd.uniform(1, 60))
                data = {"batchId": batch_id, "userId": user, "contentId": leaf}
                stream.completions.append(ev("content.completed", done, **data))
