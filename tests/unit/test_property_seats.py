"""Seats, waitlists and automatic cancellation (contract 7 and 8) whatever the arrival order.

One batch with a capacity, learners who each enrol once (some after others, some on the same
instant), complete some contents and leave or not, in any order with repeats:

(a) the seats go to the earliest requests by (request time, opening event id), the rest wait
    in that order or are refused, and the documents and counts do not depend on the order;
(b) when every request fits in the seats (nothing a late request can take away), the whole
    set of announcements, `enrolment.*` and `certificate.eligible` ids, is the same in every
    order: each learner seated once, certified once;
(c) the automatic cancellation the clock would publish (its deterministic id included) is the
    same in every order, and folding it leaves every learner not enrolled.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, note, settings
from hypothesis import strategies as st

from schemas.events import Event
from testkit.world import World
from tests.unit.builders import (
    batch_created,
    completed,
    course,
    enrolled,
    unenrolled,
)

START = datetime(2026, 3, 2, tzinfo=UTC)
NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)  # after the deadline and its grace: cancellable
LEAVES = ("l0", "l1")
PROPERTY = settings(max_examples=150, deadline=None)


def _at(hours: int) -> str:
    return (START + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


@st.composite
def cohort(draw: st.DrawFn, fits: bool) -> tuple[list[Event], list[Event], int]:
    """(rules, learner facts, capacity); `fits`: every request gets a seat."""
    users = [f"u{i}" for i in range(draw(st.integers(1, 5)))]
    capacity = len(users) + draw(st.integers(0, 1)) if fits else draw(st.integers(1, 3))
    fields: dict[str, Any] = {
        "maximumCapacity": capacity,
        "allowWaitlisting": draw(st.booleans()),
        "minimumCapacity": draw(st.integers(0, min(capacity, 4))),
        "cancelBatchWhenMinimumCapacityIsNotMet": draw(st.booleans()),
        "waitingTimeForCancellation": draw(st.integers(0, 2)),
    }
    template = {"templateId": "done", "criteria": {"completionPercent": 100}}
    rules = [
        course("c", list(LEAVES), id="course-1", time="2026-01-01T00:00:00Z"),
        batch_created(
            "b",
            "c",
            id="batch-1",
            start="2026-03-02",
            end="2026-03-31",
            templates=[template],
            **fields,
        ),
    ]
    facts: list[Event] = []
    for n, user in enumerate(users):
        hour = draw(st.integers(0, 30))  # ties of request time happen: the event id decides
        facts.append(enrolled(user, "b", time=_at(hour), id=f"enrol-{n}"))
        for leaf in LEAVES:
            if draw(st.booleans()):
                facts.append(completed(leaf, user, "b", time=_at(40 + n), id=f"done-{n}-{leaf}"))
        if not fits and draw(st.sampled_from([False, False, True])):
            facts.append(unenrolled(user, "b", time=_at(35), id=f"leave-{n}"))
    return rules, facts, capacity


def _order(data: st.DataObject, rules: list[Event], facts: list[Event], label: str) -> list[Event]:
    shuffled = list(data.draw(st.permutations(facts), label=f"{label}: shuffle"))
    for index in data.draw(st.lists(st.integers(0, max(0, len(facts) - 1)), max_size=3)):
        if facts:
            shuffled.insert(data.draw(st.integers(0, len(shuffled))), facts[index])
    cut = data.draw(st.integers(0, len(shuffled)), label=f"{label}: rules arrive at")
    return [*shuffled[:cut], *rules, *shuffled[cut:]]


def _fold(order: list[Event]) -> World:
    return World(now=NOW).apply_all(order)


def _documents(world: World) -> dict[str, dict[str, Any]]:
    skip = {"outbox", "outboxSince", "announcedStatuses", "certificates"}
    return {key: doc.model_dump(exclude=skip) for key, doc in world.enrolments.items()}


def _seat_counts(world: World) -> dict[str, tuple[int, int, int]]:
    """The counts but `certifiedCount` (a latch: a learner seated for a while, then moved to
    the waitlist by an earlier request that arrived late, may have been certified)."""
    return {
        b.batchId: (b.enrolledCount, b.completedCount, b.waitlistedCount)
        for b in world.counted().values()
    }


@PROPERTY
@given(case=cohort(fits=False), data=st.data())
def test_seats_go_to_the_earliest_requests_whatever_the_order(
    case: tuple[list[Event], list[Event], int], data: st.DataObject
) -> None:
    rules, facts, capacity = case
    one = _fold(_order(data, rules, facts, "first"))
    two = _fold(_order(data, rules, facts, "second"))
    assert _documents(one) == _documents(two)
    assert _seat_counts(one) == _seat_counts(two)
    requests = sorted(
        (d.request.time, d.request.eventId, d.userId)
        for d in one.enrolments.values()
        if d.request is not None
    )
    seated = [user for _, _, user in requests[:capacity]]
    waiting = [user for _, _, user in requests[capacity:]]
    note(f"requests {requests}")
    assert sorted(d.userId for d in one.enrolments.values() if d.enrolled) == sorted(seated)
    batch = one.batches["b"]
    for position, user in enumerate(waiting, start=1):
        doc = one.enrolments[f"b\n{user}"]
        if batch.allowWaitlisting:
            assert (doc.enrolmentStatus, doc.waitlistPosition) == ("waitlisted", position)
        else:
            assert (doc.enrolmentStatus, doc.refusedReason) == ("refused", "batch-full")


@PROPERTY
@given(case=cohort(fits=True), data=st.data())
def test_every_announcement_is_the_same_in_every_order_when_every_request_fits(
    case: tuple[list[Event], list[Event], int], data: st.DataObject
) -> None:
    rules, facts, _ = case
    one = _fold(_order(data, rules, facts, "first"))
    two = _fold(_order(data, rules, facts, "second"))
    assert one.status_event_ids() == two.status_event_ids()
    assert one.certificate_ids() == two.certificate_ids()
    assert len(one.status_event_ids()) == len(one.enrolments), "each learner seated, once"
    assert one.counted() == two.counted()
    assert {
        d.model_dump_json(exclude={"outbox", "outboxSince"}) for d in one.enrolments.values()
    } == {d.model_dump_json(exclude={"outbox", "outboxSince"}) for d in two.enrolments.values()}


@PROPERTY
@given(case=cohort(fits=False), data=st.data())
def test_the_automatic_cancellation_does_not_depend_on_the_order(
    case: tuple[list[Event], list[Event], int], data: st.DataObject
) -> None:
    rules, facts, _ = case
    one = _fold(_order(data, rules, facts, "first"))
    two = _fold(_order(data, rules, facts, "second"))
    due = one.auto_cancellations(grace_s=300)
    assert [e.model_dump() for e in due] == [e.model_dump() for e in two.auto_cancellations(300)]
    batch = one.batches["b"]
    if due:
        assert batch.cancelBatchWhenMinimumCapacityIsNotMet
        assert batch.minimumCapacity is not None and batch.minimumCapacity > 0
        [event] = due
        assert event.data.reason == "minimum-capacity-not-met"
        one.apply(event)
        two.apply(event)
        assert all(d.enrolmentStatus == "not-enrolled" for d in one.enrolments.values())
        assert _documents(one) == _documents(two)
        assert one.auto_cancellations(grace_s=300) == [], "cancelled once"
    elif not batch.cancelBatchWhenMinimumCapacityIsNotMet:
        assert not due
