"""Contract section 3: what the documents say, as functions of the facts and their `time`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.documents import EnrolmentDoc
from testkit.world import World
from tests.unit.builders import (
    assessment,
    at,
    batch_cancelled,
    batch_created,
    batch_updated,
    completed,
    course,
    doc,
    enrolled,
    fold,
    progress,
    unenrolled,
)


def values(document: EnrolmentDoc) -> dict[str, object]:
    """The derived fields of the contract."""
    return document.model_dump(
        include={
            "courseId",
            "enrolled",
            "progressStatus",
            "completionPercentage",
            "completedAt",
            "scorePercentage",
        }
    )


def counts(world: World, batch_id: str = "batch-1") -> tuple[int, int, int]:
    batch = world.counted()[batch_id]
    return batch.enrolledCount, batch.completedCount, batch.certifiedCount


# The window.


def test_fact_before_start_date_does_not_count() -> None:
    world = fold(
        course(leaf_nodes=["a"]),
        batch_created(start="2026-03-01"),
        completed("a", time="2026-02-28T23:59:59.999Z"),
    )
    assert doc(world).completionPercentage == 0.0
    assert doc(world).progressStatus == 0


def test_start_date_is_inclusive_from_midnight_utc() -> None:
    world = fold(
        course(leaf_nodes=["a"]),
        batch_created(start="2026-03-01"),
        completed("a", time="2026-03-01T00:00:00Z"),
    )
    assert doc(world).completionPercentage == 100.0
    assert doc(world).completedAt == datetime(2026, 3, 1, tzinfo=UTC)


def test_end_date_is_inclusive_to_the_last_millisecond() -> None:
    inside = fold(
        course(leaf_nodes=["a"]),
        batch_created(end="2026-12-31"),
        completed("a", time="2026-12-31T23:59:59.999Z"),
    )
    assert doc(inside).completionPercentage == 100.0
    assert doc(inside).completedAt == datetime(2026, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
    outside = fold(
        course(leaf_nodes=["a"]),
        batch_created(end="2026-12-31"),
        completed("a", time="2027-01-01T00:00:00Z"),
    )
    assert doc(outside).completionPercentage == 0.0


def test_sub_millisecond_time_on_the_end_date_still_counts() -> None:
    world = fold(
        course(leaf_nodes=["a"]),
        batch_created(end="2026-12-31"),
        completed("a", time="2026-12-31T23:59:59.999999Z"),
    )
    assert doc(world).completionPercentage == 100.0
    assert doc(world).completedAt == datetime(2026, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)


def test_window_is_compared_in_utc() -> None:
    # 00:30 on Jan 1st in UTC+1 is still Dec 31st in UTC: inside the window.
    world = fold(
        course(leaf_nodes=["a"]),
        batch_created(end="2026-12-31"),
        completed("a", time="2027-01-01T00:30:00+01:00"),
    )
    assert doc(world).completedAt == datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    # 23:30 on Dec 31st in UTC-1 is already Jan 1st in UTC: outside.
    late = fold(
        course(leaf_nodes=["a"]),
        batch_created(end="2026-12-31"),
        completed("a", time="2026-12-31T23:30:00-01:00"),
    )
    assert doc(late).completionPercentage == 0.0


def test_fact_outside_window_does_not_count_until_end_date_extended() -> None:
    stream = [
        course(leaf_nodes=["a"]),
        batch_created(end="2026-06-30"),
        enrolled(time="2026-02-01T00:00:00Z"),
        completed("a", time="2026-07-15T12:00:00Z"),
    ]
    before = fold(*stream)
    assert doc(before).completionPercentage == 0.0
    assert doc(before).progressStatus == 0
    assert len(doc(before).facts.contents) == 1  # kept, not counted
    after = fold(*stream, batch_updated(endDate="2026-07-31"))
    assert doc(after).completionPercentage == 100.0
    assert doc(after).progressStatus == 2
    assert doc(after).completedAt == at("2026-07-15T12:00:00Z")


def test_window_has_no_upper_bound_when_end_date_is_null() -> None:
    world = fold(
        course(leaf_nodes=["a"]),
        batch_created(end=None),
        completed("a", time="2099-05-05T05:05:05Z"),
    )
    assert doc(world).completedAt == at("2099-05-05T05:05:05Z")


def test_end_date_set_to_null_by_update_removes_the_upper_bound() -> None:
    world = fold(
        course(leaf_nodes=["a"]),
        batch_created(end="2026-06-30"),
        completed("a", time="2027-07-15T12:00:00Z"),
        batch_updated(endDate=None),
    )
    assert doc(world).completionPercentage == 100.0


def test_submission_outside_window_does_not_count() -> None:
    world = fold(
        course(leaf_nodes=["a"], assessments=["q"]),
        batch_created(start="2026-02-01", end="2026-02-28"),
        assessment("q", 90, time="2026-01-31T23:59:59.999Z"),
        assessment("q", 40, attempt_id="2", time="2026-02-10T00:00:00Z"),
        assessment("q", 95, attempt_id="3", time="2026-03-01T00:00:00Z"),
    )
    assert doc(world).scorePercentage == 40.0


# Counted completion.


def test_content_completed_counts_as_completion() -> None:
    world = fold(course(leaf_nodes=["a", "b"]), batch_created(), completed("a"))
    assert doc(world).completionPercentage == 50.0


def test_progress_100_counts_as_completion_below_100_does_not() -> None:
    world = fold(
        course(leaf_nodes=["a", "b", "c", "d"]),
        batch_created(),
        progress("a", 100),
        progress("b", 99.9),
    )
    assert doc(world).completionPercentage == 25.0
    assert doc(world).progressStatus == 1


def test_completion_time_is_earliest_counted_fact() -> None:
    world = fold(
        course(leaf_nodes=["a"]),
        batch_created(start="2026-03-01"),
        completed("a", time="2026-03-20T10:00:00Z"),
        progress("a", 100, time="2026-03-10T08:00:00Z"),
        completed("a", time="2026-02-01T10:00:00Z"),  # before the window: does not count
        completed("a", time="2026-03-10T09:00:00Z"),
    )
    assert doc(world).completedAt == at("2026-03-10T08:00:00Z")


def test_leaf_nodes_are_a_set() -> None:
    world = fold(course(leaf_nodes=["a", "b", "a", "b"]), batch_created(), completed("a"))
    assert doc(world).completionPercentage == 50.0
    assert world.courses["course-1"].leafNodes == ["a", "b"]


def test_completion_percentage_is_share_of_leaf_nodes_completed() -> None:
    world = fold(
        course(leaf_nodes=["a", "b", "c"]),
        batch_created(),
        completed("a"),
        completed("not-a-leaf"),
    )
    assert doc(world).completionPercentage == 100.0 / 3


def test_completion_of_non_leaf_content_does_not_count() -> None:
    world = fold(course(leaf_nodes=["a"]), batch_created(), completed("module-1"))
    assert doc(world).completionPercentage == 0.0
    assert doc(world).progressStatus == 0


def test_completion_percentage_follows_latest_course_published() -> None:
    first = course(leaf_nodes=["a", "b"], time="2026-01-01T00:00:00Z")
    second = course(leaf_nodes=["a", "b", "c", "d"], time="2026-01-05T00:00:00Z")
    stream = [batch_created(), completed("a")]
    assert doc(fold(first, *stream)).completionPercentage == 50.0
    assert doc(fold(first, *stream, second)).completionPercentage == 25.0
    assert doc(fold(second, *stream, first)).completionPercentage == 25.0


def test_older_course_published_is_ignored() -> None:
    newer = course(leaf_nodes=["a"], time="2026-01-05T00:00:00Z", id="e-new")
    older = course(leaf_nodes=["a", "b"], time="2026-01-04T00:00:00Z", id="e-old")
    world = fold(newer, older, batch_created(), completed("a"))
    assert world.courses["course-1"].leafNodes == ["a"]
    assert world.courses["course-1"].eventId == "e-new"
    assert doc(world).completionPercentage == 100.0


def test_course_published_ties_broken_by_larger_id() -> None:
    small = course(leaf_nodes=["a", "b"], time="2026-01-05T00:00:00Z", id="e-1")
    large = course(leaf_nodes=["a"], time="2026-01-05T00:00:00Z", id="e-2")
    for order in ([small, large], [large, small]):
        world = fold(*order, batch_created(), completed("a"))
        assert doc(world).completionPercentage == 100.0


def test_republished_course_with_fewer_leaf_nodes_raises_completion() -> None:
    world = fold(
        course(leaf_nodes=["a", "b"]),
        batch_created(),
        completed("a", time="2026-03-01T00:00:00Z"),
        course(leaf_nodes=["a"], time="2026-04-01T00:00:00Z"),
    )
    assert doc(world).progressStatus == 2
    assert doc(world).completedAt == at("2026-03-01T00:00:00Z")


# progressStatus and completedAt.


def test_progress_status_is_0_without_counted_leaf_activity() -> None:
    world = fold(course(leaf_nodes=["a"]), batch_created(), enrolled())
    assert doc(world).progressStatus == 0
    assert doc(world).completionPercentage == 0.0


@pytest.mark.parametrize("value", [0, 1, 50, 99.99])
def test_progress_status_is_1_with_any_counted_leaf_progress(value: float) -> None:
    world = fold(course(leaf_nodes=["a", "b"]), batch_created(), progress("a", value))
    assert doc(world).progressStatus == 1
    assert doc(world).completionPercentage == 0.0
    assert doc(world).completedAt is None


def test_progress_status_is_1_with_a_completed_leaf_below_100_percent() -> None:
    world = fold(course(leaf_nodes=["a", "b"]), batch_created(), completed("a"))
    assert doc(world).progressStatus == 1


def test_progress_on_non_leaf_content_leaves_status_0() -> None:
    world = fold(course(leaf_nodes=["a"]), batch_created(), progress("intro", 50))
    assert doc(world).progressStatus == 0


def test_progress_outside_window_leaves_status_0() -> None:
    world = fold(
        course(leaf_nodes=["a"]),
        batch_created(start="2026-03-01"),
        progress("a", 50, time="2026-02-01T00:00:00Z"),
    )
    assert doc(world).progressStatus == 0


def test_progress_status_is_2_when_complete() -> None:
    world = fold(course(leaf_nodes=["a", "b"]), batch_created(), completed("a"), progress("b", 100))
    assert doc(world).progressStatus == 2
    assert doc(world).completionPercentage == 100.0


def test_completed_at_is_latest_completion_among_leaf_nodes() -> None:
    world = fold(
        course(leaf_nodes=["a", "b"]),
        batch_created(),
        completed("b", time="2026-05-02T10:00:00.250Z"),
        completed("a", time="2026-05-01T10:00:00Z"),
        completed("extra", time="2026-06-01T10:00:00Z"),
    )
    assert doc(world).completedAt == datetime(2026, 5, 2, 10, 0, 0, 250000, tzinfo=UTC)


def test_completed_at_is_null_below_full_completion() -> None:
    world = fold(course(leaf_nodes=["a", "b"]), batch_created(), completed("a"))
    assert doc(world).completedAt is None


# scorePercentage.


def test_score_is_mean_of_best_attempt_per_assessment_unattempted_count_zero() -> None:
    world = fold(
        course(assessments=["q1", "q2", "q3"]),
        batch_created(),
        assessment("q1", 6, 10, attempt_id="1"),
        assessment("q1", 9, 10, attempt_id="2", time="2026-03-02T00:00:00Z"),
        assessment("q1", 3, 10, attempt_id="3", time="2026-03-03T00:00:00Z"),
        assessment("q2", 30, 50),
    )
    # q1 best 90, q2 60, q3 never attempted 0.
    assert doc(world).scorePercentage == 50.0


def test_best_submission_wins_whatever_the_attempt_id() -> None:
    world = fold(
        course(assessments=["q"]),
        batch_created(),
        assessment("q", 80, attempt_id="same", time="2026-03-01T00:00:00Z"),
        assessment("q", 20, attempt_id="same", time="2026-03-02T00:00:00Z"),
    )
    assert doc(world).scorePercentage == 80.0


def test_score_is_100_times_score_over_max_score() -> None:
    world = fold(course(assessments=["q"]), batch_created(), assessment("q", 3, 4))
    assert doc(world).scorePercentage == 75.0


def test_score_counts_only_the_course_assessments_when_it_lists_some() -> None:
    world = fold(
        course(assessments=["q1", "q2"]),
        batch_created(),
        assessment("q1", 100),
        assessment("other", 100),
    )
    assert doc(world).scorePercentage == 50.0


def test_score_without_course_assessments_is_mean_over_attempted() -> None:
    world = fold(
        course(assessments=[]),
        batch_created(),
        assessment("q1", 90),
        assessment("q2", 40),
        assessment("q2", 60, attempt_id="2"),
    )
    assert doc(world).scorePercentage == 75.0


def test_score_is_null_when_nothing_to_average() -> None:
    world = fold(course(assessments=[]), batch_created(), enrolled())
    assert doc(world).scorePercentage is None


def test_score_with_course_assessments_and_no_attempt_is_zero() -> None:
    world = fold(course(assessments=["q"]), batch_created(), enrolled())
    assert doc(world).scorePercentage == 0.0


def test_course_assessments_are_a_set() -> None:
    world = fold(course(assessments=["q", "q", "r"]), batch_created(), assessment("q", 80))
    assert doc(world).scorePercentage == 40.0


def test_score_follows_assessments_of_latest_course_published() -> None:
    world = fold(
        course(assessments=["q1"]),
        batch_created(),
        assessment("q1", 80),
        course(assessments=["q1", "q2"], time="2026-02-01T00:00:00Z"),
    )
    assert doc(world).scorePercentage == 40.0


# enrolled.


def test_enrolment_makes_learner_enrolled() -> None:
    world = fold(course(), batch_created(), enrolled())
    assert doc(world).enrolled is True


def test_learner_without_enrolment_is_not_enrolled() -> None:
    world = fold(course(leaf_nodes=["a"]), batch_created(), completed("a"))
    assert doc(world).enrolled is False
    assert doc(world).progressStatus == 2


def test_late_enrolment_is_refused() -> None:
    world = fold(
        course(),
        batch_created(enrol_end="2026-01-31"),
        enrolled(time="2026-02-01T00:00:00Z"),
    )
    assert doc(world).enrolled is False


def test_enrolment_on_the_deadline_day_is_accepted() -> None:
    world = fold(
        course(),
        batch_created(enrol_end="2026-01-31"),
        enrolled(time="2026-01-31T23:59:59.999Z"),
    )
    assert doc(world).enrolled is True


def test_enrolment_deadline_falls_back_to_end_date() -> None:
    stream = [course(), batch_created(end="2026-06-30", enrol_end=None)]
    assert doc(fold(*stream, enrolled(time="2026-06-30T23:00:00Z"))).enrolled is True
    assert doc(fold(*stream, enrolled(time="2026-07-01T00:00:00Z"))).enrolled is False


def test_no_enrolment_deadline_without_end_dates() -> None:
    world = fold(course(), batch_created(end=None), enrolled(time="2090-01-01T00:00:00Z"))
    assert doc(world).enrolled is True


def test_enrolment_before_start_date_counts() -> None:
    world = fold(course(), batch_created(start="2026-06-01"), enrolled(time="2026-01-01T00:00:00Z"))
    assert doc(world).enrolled is True


def test_extended_enrolment_deadline_admits_a_refused_enrolment() -> None:
    world = fold(
        course(),
        batch_created(enrol_end="2026-01-31"),
        enrolled(time="2026-02-10T00:00:00Z"),
        batch_updated(enrollmentEndDate="2026-02-28"),
    )
    assert doc(world).enrolled is True


def test_cancellation_before_completion_unenrols() -> None:
    world = fold(
        course(leaf_nodes=["a"]),
        batch_created(),
        enrolled(time="2026-02-01T00:00:00Z"),
        unenrolled(time="2026-02-02T00:00:00Z"),
        completed("a", time="2026-02-03T00:00:00Z"),
    )
    assert doc(world).enrolled is False
    assert doc(world).progressStatus == 2


def test_cancellation_without_completion_unenrols() -> None:
    world = fold(
        course(leaf_nodes=["a", "b"]),
        batch_created(),
        enrolled(time="2026-02-01T00:00:00Z"),
        completed("a", time="2026-02-02T00:00:00Z"),
        unenrolled(time="2026-09-01T00:00:00Z"),
    )
    assert doc(world).enrolled is False


def test_completed_learner_cannot_be_unenrolled() -> None:
    world = fold(
        course(leaf_nodes=["a"]),
        batch_created(),
        enrolled(time="2026-02-01T00:00:00Z"),
        completed("a", time="2026-02-03T00:00:00Z"),
        unenrolled(time="2026-02-03T00:00:00.001Z"),
    )
    assert doc(world).enrolled is True
    assert doc(world).completedAt == at("2026-02-03T00:00:00Z")


def test_cancellation_at_the_completion_instant_unenrols() -> None:
    world = fold(
        course(leaf_nodes=["a"]),
        batch_created(),
        enrolled(time="2026-02-01T00:00:00Z"),
        completed("a", time="2026-02-03T00:00:00Z"),
        unenrolled(time="2026-02-03T00:00:00Z"),
    )
    assert doc(world).enrolled is False


def test_latest_enrolment_fact_by_time_decides() -> None:
    world = fold(
        course(),
        batch_created(),
        enrolled(time="2026-02-05T00:00:00Z"),
        unenrolled(time="2026-02-03T00:00:00Z"),
        enrolled(time="2026-02-01T00:00:00Z"),
    )
    assert doc(world).enrolled is True
    again = fold(course(), batch_created(), unenrolled(time="2026-02-06T00:00:00Z"))
    again.apply_all([enrolled(time="2026-02-05T00:00:00Z")])
    assert doc(again).enrolled is False


def test_refused_late_enrolment_does_not_outrank_a_cancellation() -> None:
    world = fold(
        course(),
        batch_created(enrol_end="2026-01-31"),
        enrolled(time="2026-01-10T00:00:00Z"),
        unenrolled(time="2026-01-20T00:00:00Z"),
        enrolled(time="2026-02-10T00:00:00Z"),
    )
    assert doc(world).enrolled is False


def test_enrolment_ties_broken_by_larger_id() -> None:
    same = "2026-02-01T00:00:00Z"
    created_wins = fold(
        course(),
        batch_created(),
        unenrolled(time=same, id="id-a"),
        enrolled(time=same, id="id-b"),
    )
    assert doc(created_wins).enrolled is True
    cancelled_wins = fold(
        course(),
        batch_created(),
        unenrolled(time=same, id="id-b"),
        enrolled(time=same, id="id-a"),
    )
    assert doc(cancelled_wins).enrolled is False


def test_cancelled_batch_has_no_enrolled_learners() -> None:
    world = fold(
        course(leaf_nodes=["a"]),
        batch_created(),
        enrolled(),
        enrolled("user-2"),
        completed("a"),
        batch_cancelled(),
    )
    assert doc(world).enrolled is False
    assert doc(world, "user-2").enrolled is False
    assert doc(world).progressStatus == 2
    assert counts(world) == (0, 0, 0)


# Unknown batch or course (design decisions).


def test_unknown_batch_counts_nothing() -> None:
    world = fold(
        course(leaf_nodes=["a"], assessments=["q"]),
        enrolled(course_id="course-1"),
        completed("a"),
        assessment("q", 80),
    )
    assert values(doc(world)) == {
        "courseId": "course-1",
        "enrolled": False,
        "progressStatus": 0,
        "completionPercentage": None,
        "completedAt": None,
        "scorePercentage": None,
    }
    assert doc(world).certificates == []


def test_unknown_batch_course_id_comes_from_latest_enrolment_naming_one() -> None:
    world = fold(
        enrolled(time="2026-02-03T00:00:00Z", course_id="course-new"),
        enrolled(time="2026-02-04T00:00:00Z"),
        enrolled(time="2026-02-01T00:00:00Z", course_id="course-old"),
    )
    assert doc(world).courseId == "course-new"
    assert doc(fold(completed("a"))).courseId is None


def test_known_batch_gives_the_course_id() -> None:
    world = fold(enrolled(course_id="course-x"), batch_created(course_id="course-1"))
    assert doc(world).courseId == "course-1"


def test_unknown_course_leaves_completion_null_and_status_0() -> None:
    world = fold(
        batch_created(),
        enrolled(),
        completed("a"),
        assessment("q1", 80),
        assessment("q2", 40),
    )
    assert values(doc(world)) == {
        "courseId": "course-1",
        "enrolled": True,
        "progressStatus": 0,
        "completionPercentage": None,
        "completedAt": None,
        "scorePercentage": 60.0,
    }


def test_facts_before_batch_and_course_count_once_they_arrive() -> None:
    world = fold(
        enrolled(time="2026-02-01T00:00:00Z"),
        completed("a", time="2026-03-01T00:00:00Z"),
        assessment("q", 70),
        batch_created(),
        course(leaf_nodes=["a"], assessments=["q"]),
    )
    assert values(doc(world)) == {
        "courseId": "course-1",
        "enrolled": True,
        "progressStatus": 2,
        "completionPercentage": 100.0,
        "completedAt": at("2026-03-01T00:00:00Z"),
        "scorePercentage": 70.0,
    }


def test_facts_received_twice_are_counted_once() -> None:
    fact = completed("a", time="2026-03-01T00:00:00Z")
    sub = assessment("q", 70)
    once = fold(course(leaf_nodes=["a", "b"], assessments=["q"]), batch_created(), fact, sub)
    twice = fold(course(leaf_nodes=["a", "b"], assessments=["q"]), batch_created(), fact, sub)
    twice.apply_all([fact, sub, fact])
    assert doc(twice) == doc(once)
    assert doc(twice).completionPercentage == 50.0


def test_derived_values_use_event_time_not_arrival_order() -> None:
    a_late = completed("a", time="2026-04-01T00:00:00Z")
    a_early = completed("a", time="2026-03-01T00:00:00Z")
    first = fold(course(leaf_nodes=["a"]), batch_created(), a_late, a_early)
    second = fold(course(leaf_nodes=["a"]), batch_created(), a_early, a_late)
    assert doc(first).completedAt == doc(second).completedAt == at("2026-03-01T00:00:00Z")


def test_enrolment_document_exists_for_any_fact_naming_the_learner() -> None:
    world = fold(progress("a", 10, "user-9", "batch-9"))
    document = doc(world, "user-9", "batch-9")
    assert (document.batchId, document.userId, document.enrolled) == ("batch-9", "user-9", False)
    assert set(world.enrolments) == {"batch-9\nuser-9"}


def test_learners_of_other_batches_are_independent() -> None:
    world = fold(
        course(leaf_nodes=["a"]),
        batch_created("batch-1"),
        batch_created("batch-2"),
        enrolled(batch_id="batch-1"),
        completed("a", batch_id="batch-2"),
    )
    assert doc(world, batch_id="batch-1").enrolled is True
    assert doc(world, batch_id="batch-1").progressStatus == 0
    assert doc(world, batch_id="batch-2").enrolled is False
    assert doc(world, batch_id="batch-2").progressStatus == 2


def test_enrolment_document_has_contract_fields() -> None:
    world = fold(course(leaf_nodes=["a"]), batch_created(), enrolled(), completed("a"))
    dumped = doc(world).model_dump()
    assert {
        "batchId",
        "userId",
        "courseId",
        "enrolled",
        "progressStatus",
        "completionPercentage",
        "completedAt",
        "scorePercentage",
        "certificates",
    } <= set(dumped)
    assert values(doc(world)) == {
        "courseId": "course-1",
        "enrolled": True,
        "progressStatus": 2,
        "completionPercentage": 100.0,
        "completedAt": at("2026-03-01T10:00:00Z"),
        "scorePercentage": None,
    }
    assert doc(world).key == "batch-1\nuser-1"


# Batch documents and their counts.


def test_batch_document_has_contract_fields() -> None:
    world = fold(
        batch_created(
            name="Spring",
            enrollment_type="invite-only",
            start="2026-02-01",
            enrol_end="2026-02-15",
            end="2026-05-31",
            mentors=["m1", "m2"],
        )
    )
    batch = world.counted()["batch-1"]
    assert batch.model_dump(
        include={
            "batchId",
            "courseId",
            "name",
            "enrollmentType",
            "startDate",
            "endDate",
            "enrollmentEndDate",
            "mentors",
            "certificateTemplates",
            "cancelled",
            "enrolledCount",
            "completedCount",
            "certifiedCount",
        }
    ) == {
        "batchId": "batch-1",
        "courseId": "course-1",
        "name": "Spring",
        "enrollmentType": "invite-only",
        "startDate": "2026-02-01",
        "endDate": "2026-05-31",
        "enrollmentEndDate": "2026-02-15",
        "mentors": ["m1", "m2"],
        "certificateTemplates": [],
        "cancelled": False,
        "enrolledCount": 0,
        "completedCount": 0,
        "certifiedCount": 0,
    }


def test_completed_count_counts_only_enrolled_learners_with_status_2() -> None:
    world = fold(
        course(leaf_nodes=["a"]),
        batch_created(),
        enrolled("u1"),
        completed("a", "u1"),
        enrolled("u2"),
        completed("a", "u3"),  # completed but never enrolled
        enrolled("u4"),
        progress("a", 50, "u4"),
    )
    assert counts(world) == (3, 1, 0)


def test_enrolled_count_excludes_cancelled_and_late_enrolments() -> None:
    world = fold(
        course(),
        batch_created(enrol_end="2026-01-31"),
        enrolled("u1", time="2026-01-10T00:00:00Z"),
        enrolled("u2", time="2026-01-10T00:00:00Z"),
        unenrolled("u2", time="2026-01-11T00:00:00Z"),
        enrolled("u3", time="2026-02-01T00:00:00Z"),
    )
    assert counts(world) == (1, 0, 0)
