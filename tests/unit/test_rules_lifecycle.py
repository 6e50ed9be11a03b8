"""Contract 7 and 8 (v1.1): seats, the waitlist, invitations, refusals, status by date and the
automatic cancellation, each rule by name, on the pure fold."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from schemas.documents import BatchDoc
from schemas.outbound import EnrolmentStatusEvent
from services.domain import auto_cancellation, batch_status, cancellation_deadline
from testkit.world import World
from tests.unit.builders import (
    batch_cancelled,
    batch_created,
    batch_data,
    batch_updated,
    completed,
    course,
    doc,
    enrolled,
    message,
    parse,
    template,
    unenrolled,
)

NAMESPACE = uuid.UUID("6f1c1c0e-7c3b-4f7e-9a57-0c4d2b0f9e11")
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def status_id(user: str, status: str, opening: str, batch: str = "batch-1") -> str:
    return str(uuid.uuid5(NAMESPACE, f"{batch}\n{user}\n{status}\n{opening}"))


def world(*events: object, now: datetime = NOW) -> World:
    return World(now=now).apply_all(events)  # type: ignore[arg-type]


def seats(w: World, batch: str = "batch-1") -> dict[str, tuple[str, int | None]]:
    return {
        d.userId: (d.enrolmentStatus, d.waitlistPosition)
        for d in w.enrolments.values()
        if d.batchId == batch
    }


def capped(n: int | None, waitlisting: bool = False, **more: object) -> object:
    return batch_created(
        maximumCapacity=n, allowWaitlisting=waitlisting, templates=[template("t")], **more
    )


def at(day: int, hour: int = 10) -> str:
    return f"2026-02-{day:02d}T{hour:02d}:00:00Z"


# -- Seats --------------------------------------------------------------------------------


def test_seats_go_to_requests_in_order_of_request_time() -> None:
    w = world(
        capped(2, True),
        enrolled("late", time=at(3)),
        enrolled("first", time=at(1)),
        enrolled("second", time=at(2)),
    )
    assert seats(w) == {
        "first": ("enrolled", None),
        "second": ("enrolled", None),
        "late": ("waitlisted", 1),
    }
    assert doc(w, "first").enrolled and not doc(w, "late").enrolled


def test_a_tie_in_request_time_goes_to_the_smaller_opening_event_id() -> None:
    w = world(
        capped(1, True),
        enrolled("b", time=at(1), id="ev-b"),
        enrolled("a", time=at(1), id="ev-z"),
        enrolled("c", time=at(1), id="ev-a"),
    )
    assert seats(w) == {"c": ("enrolled", None), "b": ("waitlisted", 1), "a": ("waitlisted", 2)}


def test_every_request_holds_a_seat_where_capacity_is_unlimited() -> None:
    w = world(capped(None), *[enrolled(f"u{i}", time=at(1 + i)) for i in range(5)])
    assert {s for s, _ in seats(w).values()} == {"enrolled"}


def test_the_waitlist_is_in_request_order_with_1_based_positions() -> None:
    w = world(capped(1, True), *[enrolled(f"u{i}", time=at(5 - i)) for i in range(4)])
    assert seats(w) == {
        "u3": ("enrolled", None),
        "u2": ("waitlisted", 1),
        "u1": ("waitlisted", 2),
        "u0": ("waitlisted", 3),
    }
    assert w.counted()["batch-1"].waitlistedCount == 3
    assert w.counted()["batch-1"].enrolledCount == 1


def test_beyond_the_seats_without_waitlisting_a_request_is_refused_batch_full() -> None:
    w = world(capped(1), enrolled("a", time=at(1)), enrolled("b", time=at(2)))
    assert doc(w, "b").enrolmentStatus == "refused"
    assert doc(w, "b").refusedReason == "batch-full"
    assert doc(w, "b").waitlistPosition is None


def test_the_request_time_is_the_earliest_created_after_the_latest_cancellation() -> None:
    w = world(
        capped(1, True),
        enrolled("a", time=at(1)),
        enrolled("b", time=at(2)),
        unenrolled("a", time=at(3)),
        enrolled("a", time=at(4), id="again-1"),
        enrolled("a", time=at(5), id="again-2"),
    )
    assert doc(w, "a").request is not None and doc(w, "a").request.eventId == "again-1"
    assert seats(w) == {"b": ("enrolled", None), "a": ("waitlisted", 1)}


# -- Promotion ----------------------------------------------------------------------------


def test_a_seated_learner_leaving_promotes_the_head_of_the_waitlist() -> None:
    w = world(
        course(leaf_nodes=["x"]),
        capped(1, True),
        enrolled("a", time=at(1)),
        enrolled("b", time=at(2), id="open-b"),
        enrolled("c", time=at(3)),
        completed("x", "b", time=at(4)),
    )
    assert doc(w, "b").certificates == [], "no certificate without a seat"
    w.apply_all([unenrolled("a", time=at(6))])
    assert seats(w) == {
        "a": ("not-enrolled", None),
        "b": ("enrolled", None),
        "c": ("waitlisted", 1),
    }
    assert status_id("b", "seated", "open-b") in w.status_event_ids()
    assert [c.templateId for c in doc(w, "b").certificates] == ["t"], "promoted, then certified"


def test_a_raised_capacity_promotes_from_the_waitlist() -> None:
    w = world(capped(1, True), *[enrolled(f"u{i}", time=at(1 + i)) for i in range(3)])
    w.apply_all([batch_updated(maximumCapacity=2)])
    assert seats(w) == {
        "u0": ("enrolled", None),
        "u1": ("enrolled", None),
        "u2": ("waitlisted", 1),
    }


def test_capacity_lowered_below_the_seated_count_keeps_the_earliest_requests() -> None:
    w = world(capped(3, True), *[enrolled(f"u{i}", time=at(1 + i)) for i in range(3)])
    w.apply_all([batch_updated(maximumCapacity=1)])
    assert seats(w) == {
        "u0": ("enrolled", None),
        "u1": ("waitlisted", 1),
        "u2": ("waitlisted", 2),
    }
    assert status_id("u1", "seated", doc(w, "u1").request.eventId) in w.status_event_ids(), (  # type: ignore[union-attr]
        "a status announced is never withdrawn"
    )


def test_a_refused_learner_takes_a_seat_freed_later_the_same_rule_evaluated_again() -> None:
    w = world(capped(1), enrolled("a", time=at(1)), enrolled("b", time=at(2)))
    w.apply_all([unenrolled("a", time=at(3))])
    assert doc(w, "b").enrolmentStatus == "enrolled"


# -- Invitations and refusals ---------------------------------------------------------------


def test_a_self_enrolment_in_an_invite_only_batch_is_refused_invite_only() -> None:
    w = world(batch_created(enrollment_type="invite-only"), enrolled("a", by="a", id="self"))
    assert (doc(w, "a").enrolmentStatus, doc(w, "a").refusedReason) == ("refused", "invite-only")
    assert status_id("a", "refused", "self") in w.status_event_ids()


def test_an_invite_only_enrolment_by_a_mentor_or_without_enrolled_by_counts() -> None:
    w = world(
        batch_created(enrollment_type="invite-only", mentors=["m"]),
        enrolled("a", by="m"),
        enrolled("b"),
    )
    assert doc(w, "a").enrolmentStatus == doc(w, "b").enrolmentStatus == "enrolled"


def test_a_mentor_enrolling_a_self_enrolled_learner_later_opens_the_request() -> None:
    w = world(
        batch_created(enrollment_type="invite-only"),
        enrolled("a", by="a", time=at(1)),
        enrolled("a", by="m", time=at(2), id="by-mentor"),
    )
    assert doc(w, "a").enrolmentStatus == "enrolled"
    assert doc(w, "a").request.eventId == "by-mentor"  # type: ignore[union-attr]


def test_a_self_enrolment_in_an_open_batch_counts() -> None:
    w = world(batch_created(), enrolled("a", by="a"))
    assert doc(w, "a").enrolmentStatus == "enrolled"


def test_an_enrolment_after_the_deadline_is_refused_enrolment_closed() -> None:
    w = world(batch_created(enrol_end="2026-01-31"), enrolled("a", time=at(2), id="late"))
    assert (doc(w, "a").enrolmentStatus, doc(w, "a").refusedReason) == (
        "refused",
        "enrolment-closed",
    )
    assert status_id("a", "refused", "late") in w.status_event_ids()


def test_a_learner_who_left_is_not_enrolled_with_no_reason() -> None:
    w = world(batch_created(), enrolled("a", time=at(1)), unenrolled("a", time=at(2)))
    assert (doc(w, "a").enrolmentStatus, doc(w, "a").refusedReason) == ("not-enrolled", None)


def test_in_a_cancelled_batch_every_learner_is_not_enrolled() -> None:
    w = world(capped(1, True), enrolled("a", time=at(1)), enrolled("b", time=at(2)))
    w.apply_all([batch_cancelled()])
    assert seats(w) == {"a": ("not-enrolled", None), "b": ("not-enrolled", None)}


# -- Status announcements -------------------------------------------------------------------


def test_a_status_event_is_the_contract_message_with_its_deterministic_id() -> None:
    w = world(capped(1, True), enrolled("a", time=at(1)), enrolled("b", time=at(2), id="o-b"))
    events = [e for e in doc(w, "b").outbox if isinstance(e, EnrolmentStatusEvent)]
    assert [e.model_dump(mode="json") for e in events] == [
        {
            "specversion": "1.0",
            "type": "enrolment.waitlisted",
            "source": "batch-service",
            "id": status_id("b", "waitlisted", "o-b"),
            "time": "2026-03-01T12:00:00Z",
            "data": {
                "batchId": "batch-1",
                "courseId": "course-1",
                "userId": "b",
                "status": "waitlisted",
                "reason": None,
                "waitlistPosition": 1,
            },
        }
    ]


def test_a_status_is_announced_once_per_opening_event() -> None:
    w = world(
        batch_created(), enrolled("a", time=at(1), id="o1"), enrolled("a", time=at(1), id="o1")
    )
    w.apply_all([unenrolled("a", time=at(2)), enrolled("a", time=at(3), id="o2")])
    assert w.status_event_ids() == {status_id("a", "seated", "o1"), status_id("a", "seated", "o2")}


# -- Status by date -------------------------------------------------------------------------


def _batch(**fields: object) -> BatchDoc:
    data = batch_data(start="2026-03-01", end="2026-03-31") | fields
    return BatchDoc.model_validate(data)


@pytest.mark.parametrize(
    ("now", "status"),
    [
        ("2026-02-28T23:59:59.999Z", "upcoming"),
        ("2026-03-01T00:00:00Z", "ongoing"),
        ("2026-03-31T23:59:59.999Z", "ongoing"),
        ("2026-04-01T00:00:00Z", "completed"),
    ],
)
def test_status_at_the_boundaries_of_start_and_end_date(now: str, status: str) -> None:
    assert batch_status(_batch(), datetime.fromisoformat(now)) == status


def test_status_without_an_end_date_stays_ongoing() -> None:
    assert batch_status(_batch(endDate=None), datetime(2099, 1, 1, tzinfo=UTC)) == "ongoing"


def test_status_of_a_cancelled_batch_is_cancelled_whatever_the_date() -> None:
    batch = _batch(cancelled=True)
    assert batch_status(batch, datetime(2026, 2, 1, tzinfo=UTC)) == "cancelled"


def test_the_batch_document_holds_its_status_as_of_the_clock() -> None:
    w = world(batch_created(start="2026-03-02"), now=datetime(2026, 3, 1, tzinfo=UTC))
    assert w.batches["batch-1"].status == "upcoming"


# -- Automatic cancellation -----------------------------------------------------------------


def _min3(**fields: object) -> BatchDoc:
    return _batch(
        **({"cancelBatchWhenMinimumCapacityIsNotMet": True, "minimumCapacity": 3} | fields)
    )


def _requests(*days: int) -> list[object]:
    w = world(
        batch_created(start="2026-03-01"),
        *[enrolled(f"u{i}", time=f"2026-03-{d:02d}T10:00:00Z") for i, d in enumerate(days)],
    )
    return [d.request for d in w.enrolments.values()]


def test_the_deadline_is_the_start_plus_the_waiting_days() -> None:
    assert cancellation_deadline(_min3()) == datetime(2026, 3, 1, tzinfo=UTC)
    waiting = _min3(waitingTimeForCancellation=2)
    assert cancellation_deadline(waiting) == datetime(2026, 3, 3, tzinfo=UTC)
    assert cancellation_deadline(_batch(minimumCapacity=3)) is None, "not asked for"


def test_too_few_seats_by_the_deadline_cancel_the_batch_after_the_grace() -> None:
    batch = _min3(waitingTimeForCancellation=2)
    requests = _requests(1, 2)  # two learners by 03-03
    deadline = datetime(2026, 3, 3, tzinfo=UTC)
    assert auto_cancellation(batch, requests, deadline + timedelta(seconds=300), 300) is None
    event = auto_cancellation(batch, requests, deadline + timedelta(seconds=301), 300)
    assert event is not None
    assert event.id == str(uuid.uuid5(NAMESPACE, "batch-1\nauto-cancel\n2026-03-03T00:00:00Z"))
    assert event.source == "batch-service" and event.data.reason == "minimum-capacity-not-met"
    assert event.model_dump(mode="json")["time"] == "2026-03-03T00:00:00Z"


def test_a_deadline_before_year_1000_is_written_with_four_digits() -> None:
    """Contract 8: `YYYY-MM-DDT00:00:00Z`, in the id and the time (`%Y` writes 999, which is
    no RFC 3339 time: the event could not be built and the clock's work stopped)."""
    batch = _min3(startDate="0999-01-01", endDate=None, enrollmentEndDate=None)
    event = auto_cancellation(batch, [], datetime(2026, 6, 1, tzinfo=UTC), 300)
    assert event is not None
    assert event.id == str(uuid.uuid5(NAMESPACE, "batch-1\nauto-cancel\n0999-01-01T00:00:00Z"))
    assert event.model_dump(mode="json")["time"] == "0999-01-01T00:00:00Z"


def test_requests_after_the_deadline_do_not_count_towards_the_minimum() -> None:
    requests = _requests(1, 2, 5)
    assert auto_cancellation(_min3(), requests, datetime(2026, 3, 9, tzinfo=UTC), 0) is not None
    waiting = _min3(waitingTimeForCancellation=5)  # 03-06 00:00: the 03-05 request counts
    assert auto_cancellation(waiting, requests, datetime(2026, 3, 9, tzinfo=UTC), 0) is None


def test_seats_by_the_deadline_are_capped_by_the_maximum_capacity() -> None:
    full = _min3(maximumCapacity=3, waitingTimeForCancellation=9)
    assert (
        auto_cancellation(full, _requests(1, 2, 3, 4), datetime(2026, 4, 1, tzinfo=UTC), 0) is None
    )
    assert _min3(maximumCapacity=3).maximumCapacity == 3


def test_a_batch_updated_before_its_deadline_is_judged_by_its_new_capacities() -> None:
    requests = _requests(1, 1)  # two requests on 03-01, before the deadline of 03-02
    later = datetime(2026, 4, 1, tzinfo=UTC)
    one_day = {"waitingTimeForCancellation": 1}
    assert auto_cancellation(_min3(**one_day), requests, later, 0) is not None
    assert auto_cancellation(_min3(**one_day, minimumCapacity=2), requests, later, 0) is None
    moved = _min3(**one_day, startDate="2026-05-01", endDate="2026-05-31")
    assert auto_cancellation(moved, requests, later, 0) is None, "its deadline is not past"


def test_a_deadline_past_the_last_representable_day_never_comes() -> None:
    # A valid batch starting on 9999-12-31 with a day of waiting: its deadline is beyond the
    # calendar, so there is none (computing it must not stop the service's clock work).
    last = _min3(startDate="9999-12-31", endDate=None, waitingTimeForCancellation=1)
    assert cancellation_deadline(last) is None
    assert auto_cancellation(last, [], datetime(9999, 12, 31, 23, tzinfo=UTC), 300) is None
    assert batch_status(last, datetime(9999, 12, 31, 23, tzinfo=UTC)) == "ongoing"
    same_day = _min3(startDate="9999-12-31", endDate="9999-12-31")
    assert auto_cancellation(same_day, [], datetime(9999, 12, 31, 1, tzinfo=UTC), 300) is not None


def test_a_batch_already_cancelled_is_not_cancelled_again() -> None:
    assert auto_cancellation(_min3(cancelled=True), [], datetime(2027, 1, 1, tzinfo=UTC), 0) is None


def test_the_automatic_cancellation_folds_like_any_cancellation() -> None:
    w = world(
        batch_created(
            start="2026-03-01", cancelBatchWhenMinimumCapacityIsNotMet=True, minimumCapacity=3
        ),
        enrolled("a", time="2026-02-20T00:00:00Z"),
        now=datetime(2026, 3, 2, tzinfo=UTC),
    )
    [event] = w.auto_cancellations(grace_s=300)
    w.apply_all([event])
    assert w.batches["batch-1"].cancelled and w.batches["batch-1"].status == "cancelled"
    assert doc(w, "a").enrolmentStatus == "not-enrolled"
    assert w.auto_cancellations() == [], "never twice"


# -- Validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"maximumCapacity": 0},
        {"maximumCapacity": 2.5},
        {"maximumCapacity": "5"},
        {"minimumCapacity": -1},
        {"minimumCapacity": 3, "maximumCapacity": 2},
        {"waitingTimeForCancellation": -1},
        {"waitingTimeForCancellation": 1.5},
        {"waitingTimeUnitForCancellation": "week"},
        {"allowWaitlisting": "yes"},
        {"allowWaitlisting": 1},
    ],
)
def test_capacity_fields_are_validated(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        parse(message("batch.created", batch_data(**fields)))


def test_large_capacities_and_waiting_times_are_valid() -> None:
    """Contract 7 bounds them below only: nothing valid is dropped (up to 2**53 - 1, the
    largest integer every JSON reader keeps exact); a deadline past the calendar is none."""
    huge = 2**53 - 1
    w = world(
        batch_created(
            maximumCapacity=huge,
            minimumCapacity=huge,
            cancelBatchWhenMinimumCapacityIsNotMet=True,
            waitingTimeForCancellation=huge,
        ),
        enrolled("a"),
    )
    assert w.rejections == []
    assert w.batches["batch-1"].maximumCapacity == huge
    assert doc(w, "a").enrolmentStatus == "enrolled"
    assert w.auto_cancellations() == []
    with pytest.raises(ValidationError):
        parse(message("batch.created", batch_data(maximumCapacity=huge + 1)))


def test_an_update_that_puts_the_minimum_above_the_maximum_is_rejected() -> None:
    w = world(capped(3), batch_updated(minimumCapacity=5))
    assert [r.reason for _, r in w.rejections] == [
        "batch.updated makes minimumCapacity above maximumCapacity"
    ]
    with pytest.raises(ValidationError):
        parse(
            message("batch.updated", {"batchId": "b", "maximumCapacity": 1, "minimumCapacity": 2})
        )


def test_enrolled_by_is_an_identifier() -> None:
    with pytest.raises(ValidationError):
        parse(message("enrolment.created", {"batchId": "b", "userId": "u", "enrolledBy": ""}))
