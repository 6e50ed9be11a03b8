"""Contract sections 1, 2 and 5: the envelope, the event types and what is bad input.

Bad input is whatever `event_adapter` refuses with a `ValidationError` (the consumer
dead-letters exactly that) or what the fold records as a `Rejection` (tested with the batch
rules). Anything else raised is a crash, never a dead letter.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.events import (
    AssessmentSubmitted,
    BatchCancelled,
    BatchCreated,
    BatchUpdated,
    ContentCompleted,
    ContentProgress,
    CoursePublished,
    EnrolmentCancelled,
    EnrolmentCreated,
)
from schemas.topics import KEY_FIELD_OF_TYPE, TOPIC_OF_TYPE, Topics
from tests.unit.builders import (
    batch_created,
    batch_data,
    completed,
    course,
    doc,
    enrolled,
    fold,
    message,
    parse,
    template,
)

LEARNER = {"batchId": "b", "userId": "u"}

VALID_DATA: dict[str, dict[str, Any]] = {
    "course.published": {"courseId": "c", "leafNodes": ["l"], "assessments": []},
    "batch.created": batch_data("b", "c"),
    "batch.updated": {"batchId": "b"},
    "batch.cancelled": {"batchId": "b"},
    "enrolment.created": dict(LEARNER),
    "enrolment.cancelled": dict(LEARNER),
    "content.progress": {**LEARNER, "contentId": "l", "progress": 50},
    "content.completed": {**LEARNER, "contentId": "l"},
    "assessment.submitted": {
        **LEARNER,
        "assessmentId": "a",
        "attemptId": "t",
        "score": 5,
        "maxScore": 10,
    },
}

MODEL_OF_TYPE = {
    "course.published": CoursePublished,
    "batch.created": BatchCreated,
    "batch.updated": BatchUpdated,
    "batch.cancelled": BatchCancelled,
    "enrolment.created": EnrolmentCreated,
    "enrolment.cancelled": EnrolmentCancelled,
    "content.progress": ContentProgress,
    "content.completed": ContentCompleted,
    "assessment.submitted": AssessmentSubmitted,
}

# Every identifier field of the contract, with an event type that carries it in `data`.
IDENTIFIER_FIELDS = [
    ("course.published", "courseId"),
    ("batch.created", "batchId"),
    ("batch.created", "courseId"),
    ("enrolment.created", "userId"),
    ("content.completed", "contentId"),
    ("assessment.submitted", "assessmentId"),
    ("assessment.submitted", "attemptId"),
]


def valid(event_type: str, **data_changes: Any) -> dict[str, Any]:
    """A valid message of the type, with some `data` fields replaced."""
    return message(event_type, {**VALID_DATA[event_type], **data_changes})


def rejected(value: dict[str, Any] | bytes) -> None:
    with pytest.raises(ValidationError):
        parse(value)


def with_data(msg: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**msg, "data": {**msg["data"], **changes}}


def without(mapping: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k != key}


# Section 1: the envelope.


@pytest.mark.parametrize("event_type", sorted(VALID_DATA))
def test_each_event_type_parses_to_its_model(event_type: str) -> None:
    event = parse(valid(event_type))
    assert type(event) is MODEL_OF_TYPE[event_type]
    assert event.type == event_type


@pytest.mark.parametrize("field", ["specversion", "id", "type", "source", "time", "data"])
def test_every_required_envelope_field_is_required(field: str) -> None:
    rejected(without(valid("content.completed"), field))


@pytest.mark.parametrize("version", ["1.1", "0.3", "", 1.0])
def test_specversion_must_be_1_0(version: object) -> None:
    rejected({**valid("content.completed"), "specversion": version})


def test_event_id_is_1_to_256_chars() -> None:
    assert parse({**valid("content.completed"), "id": "x" * 256}).id == "x" * 256
    assert parse({**valid("content.completed"), "id": "é" * 256}).id == "é" * 256
    rejected({**valid("content.completed"), "id": "x" * 257})
    rejected({**valid("content.completed"), "id": ""})


def test_event_id_holds_any_character_but_nul() -> None:
    """Contract 1 puts no character rule on `id`; NUL is the one no store of ours can hold
    (FerretDB's PostgreSQL refuses it: the write would stop the service), so it is bad input."""
    assert parse({**valid("content.completed"), "id": "a\tb\x01\x7f"}).id == "a\tb\x01\x7f"
    rejected({**valid("content.completed"), "id": "a\x00b"})


def test_free_text_holds_any_character_but_nul() -> None:
    """Names and reasons have no character rule in the contract (identifiers do): a batch
    named with an escape sequence or a form feed is still a batch, never a dead letter."""
    odd = "Intro\x1b[1mBold\x0cpage\x01\x7f\x85\t\n"
    created = parse(valid("batch.created", name=odd))
    assert created.data.name == odd  # type: ignore[union-attr]
    cancelled = parse(valid("batch.cancelled", reason=odd))
    assert cancelled.data.reason == odd  # type: ignore[union-attr]
    rejected(valid("batch.created", name="a\x00b"))
    rejected(valid("batch.cancelled", reason="a\x00b"))


def test_unknown_type_is_rejected() -> None:
    rejected(message("content.deleted", VALID_DATA["content.completed"]))


def test_source_is_free_text() -> None:
    source = "urn:lms:player/v2 (eu-west) — ünïcode"
    assert parse({**valid("content.completed"), "source": source}).source == source


def test_subject_and_datacontenttype_are_accepted_and_ignored() -> None:
    msg = {**valid("content.completed"), "subject": "u", "datacontenttype": "application/json"}
    assert parse(msg) == parse(valid("content.completed") | {"id": msg["id"]})


def test_unknown_fields_are_ignored() -> None:
    tpl = template("t") | {"colour": "gold"}
    tpl["criteria"] = {"completionPercent": 50, "maxAttempts": 3}
    data = batch_data("b", "c", templates=[tpl]) | {"region": "eu", "nested": {"a": [1]}}
    event = parse(message("batch.created", data, extensions={"x": 1}, traceparent="00-ab"))
    assert isinstance(event, BatchCreated)
    assert event.data.batchId == "b"
    assert event.data.certificateTemplates[0].criteria.completionPercent == 50.0
    assert "region" not in event.data.model_dump()
    assert "extensions" not in event.model_dump()


def test_data_must_be_an_object() -> None:
    rejected({**valid("content.completed"), "data": None})
    rejected({**valid("content.completed"), "data": ["b", "u", "l"]})


def test_ids_with_dollar_dot_space_non_ascii_are_kept_unchanged() -> None:
    batch, user, crs = "$b.1: ünï", " user.$x:日本 😀 ", "course\u00a0$.:é"
    leaf = "mod.1$leaf: ✓"
    world = fold(
        course(crs, [leaf]),
        batch_created(batch, crs),
        enrolled(user, batch),
        completed(leaf, user, batch),
    )
    document = doc(world, user, batch)
    assert (document.batchId, document.userId, document.courseId) == (batch, user, crs)
    assert [c.contentId for c in document.facts.contents] == [leaf]
    assert document.completionPercentage == 100.0
    assert set(world.batches) == {batch}
    assert world.courses[crs].leafNodes == [leaf]


@pytest.mark.parametrize(("event_type", "field"), IDENTIFIER_FIELDS)
def test_identifier_fields_keep_any_printable_value(event_type: str, field: str) -> None:
    value = " .$:é\u2028日😀 "
    event = parse(valid(event_type, **{field: value}))
    assert getattr(event.data, field) == value


@pytest.mark.parametrize("char", ["\x00", "\n", "\t", "\x1f", "\x7f", "\x80", "\x85", "\x9f"])
@pytest.mark.parametrize(("event_type", "field"), IDENTIFIER_FIELDS)
def test_control_characters_in_ids_are_rejected(event_type: str, field: str, char: str) -> None:
    rejected(valid(event_type, **{field: f"a{char}b"}))


def test_control_characters_in_template_ids_and_mentors_are_rejected() -> None:
    rejected(message("batch.created", batch_data(templates=[template("t\x01")])))
    rejected(message("batch.created", batch_data(mentors=["m\x1b"])))
    rejected(message("course.published", {**VALID_DATA["course.published"], "leafNodes": ["\n"]}))


@pytest.mark.parametrize(("event_type", "field"), IDENTIFIER_FIELDS)
def test_ids_are_1_to_256_chars(event_type: str, field: str) -> None:
    assert getattr(parse(valid(event_type, **{field: "😀" * 256})).data, field) == "😀" * 256
    rejected(valid(event_type, **{field: "x" * 257}))
    rejected(valid(event_type, **{field: ""}))


@pytest.mark.parametrize(("event_type", "field"), IDENTIFIER_FIELDS)
def test_ids_must_be_strings(event_type: str, field: str) -> None:
    rejected(valid(event_type, **{field: 42}))


# Times.


def test_time_with_offset_is_parsed_to_utc() -> None:
    event = parse({**valid("content.completed"), "time": "2026-11-22T10:00:00+05:30"})
    assert event.time == datetime(2026, 11, 22, 4, 30, tzinfo=UTC)
    assert event.time.utcoffset() is not None


def test_time_is_truncated_to_the_millisecond() -> None:
    event = parse({**valid("content.completed"), "time": "2026-12-31T23:59:59.999999999Z"})
    assert event.time == datetime(2026, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)


def test_a_fraction_of_any_length_is_accepted() -> None:
    """RFC 3339 bounds no fraction: a clock with more digits than nanoseconds is still valid."""
    event = parse({**valid("content.completed"), "time": "2026-11-22T10:00:00.123456789012Z"})
    assert event.time == datetime(2026, 11, 22, 10, 0, 0, 123000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        ("2026-12-31T23:59:60Z", datetime(2026, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)),
        ("2027-01-01T00:59:60.25+01:00", datetime(2026, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)),
    ],
)
def test_a_leap_second_is_the_last_millisecond_of_its_minute(time: str, expected: datetime) -> None:
    """RFC 3339 allows second 60; Python cannot hold it: it becomes :59.999 on the same day."""
    event = parse({**valid("content.completed"), "time": time})
    assert event.time == expected


def test_lowercase_t_and_z_are_accepted() -> None:
    event = parse({**valid("content.completed"), "time": "2026-11-22t10:00:00.5z"})
    assert event.time == datetime(2026, 11, 22, 10, 0, 0, 500000, tzinfo=UTC)


def test_naive_time_is_rejected() -> None:
    rejected({**valid("content.completed"), "time": "2026-11-22T10:00:00"})
    rejected({**valid("content.completed"), "time": "2026-11-22T10:00:00.123"})


@pytest.mark.parametrize(
    "time",
    [
        "2026-11-22",
        "2026-11-22T10:00Z",
        "2026-11-22 10:00:00Z",
        "20261122T100000Z",
        "2026-11-22T10:00:00+0100",
        "2026-13-01T10:00:00Z",
        "2026-02-30T10:00:00Z",
        "2026-11-22T25:00:00Z",
        "2026-11-22T10:00:61Z",
        "2026-11-22T10:00:00Z\n",
        "\uff12\uff10\uff12\uff16-11-22T10:00:00Z",  # fullwidth digits
        "",
        1795000000,
        None,
    ],
)
def test_time_that_is_not_rfc3339_with_offset_is_rejected(time: object) -> None:
    rejected({**valid("content.completed"), "time": time})


@pytest.mark.parametrize("time", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_time_outside_the_representable_range_is_rejected_as_bad_input(time: str) -> None:
    rejected({**valid("content.completed"), "time": time})


# Numbers and types (section 5: wrong type or value).


@pytest.mark.parametrize(
    ("event_type", "field", "value"),
    [
        ("content.progress", "progress", "100"),
        ("assessment.submitted", "score", "5"),
        ("assessment.submitted", "maxScore", "10"),
    ],
)
def test_numbers_as_strings_are_rejected(event_type: str, field: str, value: str) -> None:
    rejected(valid(event_type, **{field: value}))


def test_numbers_as_strings_in_template_criteria_are_rejected() -> None:
    tpl = {"templateId": "t", "criteria": {"completionPercent": "80"}}
    rejected(message("batch.created", batch_data(templates=[tpl])))
    tpl = {"templateId": "t", "criteria": {"minScorePercent": "80"}}
    rejected(message("batch.created", batch_data(templates=[tpl])))


def test_booleans_are_not_numbers() -> None:
    rejected(valid("content.progress", progress=True))
    rejected(valid("assessment.submitted", score=False))


def test_integers_are_accepted_as_numbers() -> None:
    event = parse(valid("content.progress", progress=100))
    assert isinstance(event, ContentProgress)
    assert event.data.progress == 100.0


@pytest.mark.parametrize("value", [-0.001, 100.001, 1000])
def test_progress_outside_0_100_is_rejected(value: float) -> None:
    rejected(valid("content.progress", progress=value))


def test_score_above_max_score_is_rejected() -> None:
    rejected(valid("assessment.submitted", score=10.5, maxScore=10))
    event = parse(valid("assessment.submitted", score=10, maxScore=10))
    assert isinstance(event, AssessmentSubmitted)
    assert event.data.score == event.data.maxScore == 10.0


def test_negative_score_is_rejected() -> None:
    rejected(valid("assessment.submitted", score=-1, maxScore=10))


@pytest.mark.parametrize("max_score", [0, -5])
def test_max_score_must_be_positive(max_score: float) -> None:
    rejected(valid("assessment.submitted", score=0, maxScore=max_score))


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_non_finite_numbers_are_rejected(literal: bytes) -> None:
    raw = json.dumps(valid("content.progress", progress=0)).encode()
    rejected(raw.replace(b'"progress": 0', b'"progress": ' + literal))


def test_score_percent_of_a_large_valid_score_is_finite() -> None:
    event = parse(valid("assessment.submitted", score=1e308, maxScore=1e308))
    assert isinstance(event, AssessmentSubmitted)
    assert event.data.percent == 100.0
    half = parse(valid("assessment.submitted", score=0.5e308, maxScore=1e308))
    assert isinstance(half, AssessmentSubmitted)
    assert half.data.percent == 50.0


@given(st.integers(0, 10_000), st.integers(1, 10_000))
def test_a_whole_percentage_of_whole_scores_is_exact(score: int, max_score: int) -> None:
    """Contract 3: 100 x score / maxScore. 57 of 100 is 57.0, not 56.99999999999999 (dividing
    first), so that it meets a `minScorePercent` of 57; and no percentage passes 100."""
    score = min(score, max_score)
    event = parse(valid("assessment.submitted", score=score, maxScore=max_score))
    assert isinstance(event, AssessmentSubmitted)
    assert event.data.percent <= 100.0
    if 100 * score % max_score == 0:
        assert event.data.percent == 100 * score // max_score
    assert event.data.percent == 100 * score / max_score


# Bad JSON.


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"not json", b"[]", b'"text"', b"null", b'{"id": "\xff"}', b"\xef\xbb"],
)
def test_invalid_json_or_non_object_is_rejected(raw: bytes) -> None:
    rejected(raw)


def test_lone_surrogate_is_rejected() -> None:
    raw = json.dumps(valid("content.completed", userId="PLACEHOLDER")).encode()
    rejected(raw.replace(b"PLACEHOLDER", b"\\ud800"))


# Section 2: the payload of each type.


def test_leaf_nodes_must_be_non_empty() -> None:
    rejected(valid("course.published", leafNodes=[]))


def test_course_assessments_may_be_empty_and_name_is_optional() -> None:
    event = parse(valid("course.published", assessments=[]))
    assert isinstance(event, CoursePublished)
    assert (event.data.assessments, event.data.name) == ([], None)
    rejected(message("course.published", {"courseId": "c", "leafNodes": ["l"]}))


@pytest.mark.parametrize("field", ["courseId", "leafNodes"])
def test_course_published_requires_course_id_and_leaf_nodes(field: str) -> None:
    rejected(message("course.published", without(VALID_DATA["course.published"], field)))


@pytest.mark.parametrize(
    "field",
    [
        "batchId",
        "courseId",
        "name",
        "enrollmentType",
        "startDate",
        "endDate",
        "enrollmentEndDate",
        "mentors",
        "certificateTemplates",
    ],
)
def test_batch_created_requires_its_fields(field: str) -> None:
    rejected(message("batch.created", without(batch_data(), field)))


def test_batch_created_created_by_is_optional() -> None:
    event = parse(message("batch.created", batch_data() | {"createdBy": "admin-1"}))
    assert isinstance(event, BatchCreated)
    assert event.data.createdBy == "admin-1"
    event = parse(message("batch.created", batch_data()))
    assert isinstance(event, BatchCreated)
    assert event.data.createdBy is None


@pytest.mark.parametrize("kind", ["open", "invite-only"])
def test_enrollment_type_is_open_or_invite_only(kind: str) -> None:
    event = parse(message("batch.created", batch_data(enrollment_type=kind)))
    assert isinstance(event, BatchCreated)
    assert event.data.enrollmentType == kind


@pytest.mark.parametrize("kind", ["closed", "Open", "", None])
def test_other_enrollment_types_are_rejected(kind: object) -> None:
    rejected(message("batch.created", batch_data() | {"enrollmentType": kind}))


def test_end_date_and_enrollment_end_date_may_be_null() -> None:
    event = parse(message("batch.created", batch_data(end=None, enrol_end=None)))
    assert isinstance(event, BatchCreated)
    assert (event.data.endDate, event.data.enrollmentEndDate) == (None, None)


@pytest.mark.parametrize(
    "day",
    [
        "2026-02-30",
        "2026-1-01",
        "2026/01/01",
        "2026-01-01T00:00:00Z",
        "26-01-01",
        "",
        "\u0662\u0660\u0662\u0666-\u0660\u0661-\u0660\u0661",  # Arabic-Indic digits
    ],
)
def test_dates_must_be_calendar_days_yyyy_mm_dd(day: str) -> None:
    rejected(message("batch.created", batch_data(start=day)))


@pytest.mark.parametrize(
    ("start", "enrol_end", "end"),
    [
        ("2026-02-01", None, "2026-01-31"),
        ("2026-02-01", "2026-01-31", "2026-12-31"),
        ("2026-01-01", "2027-01-01", "2026-12-31"),
        ("2026-02-01", "2026-01-31", None),
    ],
)
def test_dates_out_of_order_are_rejected(
    start: str, enrol_end: str | None, end: str | None
) -> None:
    rejected(message("batch.created", batch_data(start=start, enrol_end=enrol_end, end=end)))


def test_equal_dates_are_in_order() -> None:
    data = batch_data(start="2026-05-05", enrol_end="2026-05-05", end="2026-05-05")
    assert isinstance(parse(message("batch.created", data)), BatchCreated)


def test_template_criteria_default_to_full_completion_and_no_score() -> None:
    data = batch_data(templates=[{"templateId": "t"}, {"templateId": "u", "criteria": {}}])
    event = parse(message("batch.created", data))
    assert isinstance(event, BatchCreated)
    for tpl in event.data.certificateTemplates:
        assert tpl.criteria.completionPercent == 100.0
        assert tpl.criteria.minScorePercent is None


@pytest.mark.parametrize(
    "criteria",
    [
        {"completionPercent": 101},
        {"completionPercent": -1},
        {"minScorePercent": 100.5},
        {"minScorePercent": -0.5},
        {"completionPercent": None},
    ],
)
def test_template_criteria_outside_0_100_are_rejected(criteria: dict[str, Any]) -> None:
    tpl = {"templateId": "t", "criteria": criteria}
    rejected(message("batch.created", batch_data(templates=[tpl])))


def test_template_requires_a_template_id() -> None:
    rejected(message("batch.created", batch_data(templates=[{"name": "no id"}])))


def test_batch_updated_accepts_any_subset_of_mutable_fields() -> None:
    event = parse(message("batch.updated", {"batchId": "b", "endDate": None, "name": "New"}))
    assert isinstance(event, BatchUpdated)
    assert event.data.changes() == {"endDate": None, "name": "New"}
    event = parse(message("batch.updated", {"batchId": "b"}))
    assert isinstance(event, BatchUpdated)
    assert event.data.changes() == {}


@pytest.mark.parametrize(
    "field", ["name", "enrollmentType", "startDate", "mentors", "certificateTemplates"]
)
def test_batch_updated_cannot_null_a_field_that_is_never_null(field: str) -> None:
    rejected(message("batch.updated", {"batchId": "b", field: None}))


def test_enrolment_created_course_id_is_optional() -> None:
    event = parse(valid("enrolment.created", courseId="c-9"))
    assert isinstance(event, EnrolmentCreated)
    assert event.data.courseId == "c-9"
    event = parse(valid("enrolment.created"))
    assert isinstance(event, EnrolmentCreated)
    assert event.data.courseId is None


def test_batch_cancelled_reason_is_optional() -> None:
    event = parse(valid("batch.cancelled", reason="merged"))
    assert isinstance(event, BatchCancelled)
    assert event.data.reason == "merged"


@pytest.mark.parametrize(
    ("event_type", "field"),
    [
        (t, f)
        for t, d in VALID_DATA.items()
        if t not in ("course.published", "batch.created")
        for f in d
        if f not in ("courseId", "name", "reason")
    ],
)
def test_learner_and_batch_payload_fields_are_required(event_type: str, field: str) -> None:
    rejected(message(event_type, without(VALID_DATA[event_type], field)))


def test_every_event_type_has_its_contract_topic_and_key() -> None:
    assert TOPIC_OF_TYPE == {
        "course.published": "lms.course.v1",
        "batch.created": "lms.batch.v1",
        "batch.updated": "lms.batch.v1",
        "batch.cancelled": "lms.batch.v1",
        "enrolment.created": "lms.enrolment.v1",
        "enrolment.cancelled": "lms.enrolment.v1",
        "content.progress": "lms.progress.v1",
        "content.completed": "lms.content-completion.v1",
        "assessment.submitted": "lms.assessment.v1",
    }
    assert KEY_FIELD_OF_TYPE == {
        "course.published": "courseId",
        "batch.created": "batchId",
        "batch.updated": "batchId",
        "batch.cancelled": "batchId",
        "enrolment.created": "batchId",
        "enrolment.cancelled": "batchId",
        "content.progress": "userId",
        "content.completed": "userId",
        "assessment.submitted": "userId",
    }


def test_topic_prefix_is_prepended_to_all_topics() -> None:
    topics = Topics("acme.")
    assert set(topics.inbound) == {"acme." + t for t in set(TOPIC_OF_TYPE.values())}
    assert topics.batch == "acme.lms.batch.v1"
    assert topics.certificates == "acme.lms.certificate-eligibility.v1"
    assert topics.dlq == "acme.lms.dlq.v1"
    assert topics.of_type("content.completed") == "acme.lms.content-completion.v1"
    assert topics.default_name("acme.lms.dlq.v1") == "lms.dlq.v1"


def test_default_topics_have_no_prefix() -> None:
    assert Topics().dlq == "lms.dlq.v1"
    assert Topics().certificates == "lms.certificate-eligibility.v1"
