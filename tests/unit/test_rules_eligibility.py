"""Contract section 4: certificate eligibility, its latch, and the announcement it puts out."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from schemas.outbound import CertificateEligible
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
    template,
    unenrolled,
)

NAMESPACE = uuid.UUID("6f1c1c0e-7c3b-4f7e-9a57-0c4d2b0f9e11")


def event_id(batch_id: str, user_id: str, template_id: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{batch_id}\n{user_id}\n{template_id}"))


def certificate_events(
    world: World, user_id: str = "user-1", batch_id: str = "batch-1"
) -> list[CertificateEligible]:
    """The certificate events in the learner's outbox (status events aside)."""
    outbox = doc(world, user_id, batch_id).outbox
    return [e for e in outbox if isinstance(e, CertificateEligible)]


def outbox_of(world: World, user_id: str = "user-1") -> list[dict[str, Any]]:
    """The learner's certificate events as the JSON they are published as."""
    return [e.model_dump(mode="json") for e in certificate_events(world, user_id)]


def templates_of(world: World, user_id: str = "user-1") -> list[str]:
    return [c.templateId for c in doc(world, user_id).certificates]


def announced(world: World) -> list[tuple[str, str, str]]:
    """(batchId, userId, templateId) of every event in the outboxes."""
    return sorted(
        (e.data.batchId, e.data.userId, e.data.templateId)
        for d in world.enrolments.values()
        for e in d.outbox
        if isinstance(e, CertificateEligible)
    )


def qualified(*templates: dict[str, Any], leaves: tuple[str, ...] = ("a",)) -> list[Any]:
    """A stream where user-1 is enrolled and completes every leaf on 2026-03-01."""
    return [
        course(leaf_nodes=list(leaves)),
        batch_created(templates=templates),
        enrolled(time="2026-02-01T00:00:00Z"),
        *[completed(leaf, time="2026-03-01T00:00:00Z") for leaf in leaves],
    ]


def test_learner_meeting_template_is_eligible() -> None:
    world = fold(*qualified(template("tpl-1")))
    assert templates_of(world) == ["tpl-1"]
    assert world.certificate_ids() == {event_id("batch-1", "user-1", "tpl-1")}


def test_certificate_event_id_is_uuid5_of_batch_user_template() -> None:
    world = fold(
        course(leaf_nodes=["a"]),
        batch_created("b.$1", templates=[template("t: é")]),
        enrolled("ü 1", "b.$1"),
        completed("a", "ü 1", "b.$1"),
    )
    expected = str(uuid.uuid5(NAMESPACE, "b.$1\nü 1\nt: é"))
    certificate = doc(world, "ü 1", "b.$1").certificates[0]
    assert certificate.eventId == expected
    assert certificate_events(world, "ü 1", "b.$1")[0].id == expected


def test_certificate_event_is_the_contract_message() -> None:
    world = fold(
        course(leaf_nodes=["a", "b"], assessments=["q1", "q2"]),
        batch_created(templates=[template("gold", min_score=80)]),
        enrolled(time="2026-02-01T00:00:00Z"),
        completed("a", time="2026-03-01T10:00:00Z"),
        assessment("q1", 90, time="2026-03-02T10:00:00Z"),
        assessment("q2", 80, time="2026-03-03T10:00:00Z"),
        completed("b", time="2026-03-04T10:00:00.120Z"),
    )
    assert outbox_of(world) == [
        {
            "specversion": "1.0",
            "type": "certificate.eligible",
            "source": "batch-service",
            "id": event_id("batch-1", "user-1", "gold"),
            "time": "2026-03-04T10:00:00.120Z",
            "data": {
                "batchId": "batch-1",
                "courseId": "course-1",
                "userId": "user-1",
                "templateId": "gold",
                "completionPercentage": 100.0,
                "scorePercentage": 85.0,
                "completedAt": "2026-03-04T10:00:00.120Z",
            },
        }
    ]
    CertificateEligible.model_validate(outbox_of(world)[0])


def test_certificate_event_time_is_when_criteria_were_first_met() -> None:
    # The enrolment comes last in business time: that is when eligibility was reached.
    world = fold(
        course(leaf_nodes=["a"]),
        batch_created(templates=[template("t")]),
        completed("a", time="2026-03-01T00:00:00Z"),
        enrolled(time="2026-03-05T08:00:00Z"),
    )
    certificate = doc(world).certificates[0]
    assert certificate.eligibleAt == datetime(2026, 3, 5, 8, tzinfo=UTC)
    assert outbox_of(world)[0]["time"] == "2026-03-05T08:00:00Z"
    assert outbox_of(world)[0]["data"]["completedAt"] == "2026-03-01T00:00:00Z"


def test_certificate_event_data_are_values_when_eligible() -> None:
    # Every fact is known when the batch arrives: the event reports the values at eligibleAt
    # (50% on 03-01, score 40 then), not the values of the document now.
    world = fold(
        course(leaf_nodes=["a", "b"], assessments=["q"]),
        enrolled(time="2026-02-01T00:00:00Z"),
        assessment("q", 40, time="2026-02-15T00:00:00Z"),
        completed("b", time="2026-03-01T00:00:00Z"),
        assessment("q", 90, attempt_id="2", time="2026-03-15T00:00:00Z"),
        completed("a", time="2026-03-20T00:00:00Z"),
        batch_created(templates=[template("half", completion=50)]),
    )
    assert (doc(world).completionPercentage, doc(world).scorePercentage) == (100.0, 90.0)
    (event,) = outbox_of(world)
    assert event["time"] == "2026-03-01T00:00:00Z"
    assert event["data"]["completionPercentage"] == 50.0
    assert event["data"]["scorePercentage"] == 40.0
    assert event["data"]["completedAt"] is None
    assert doc(world).certificates[0].eligibleAt == at("2026-03-01T00:00:00Z")


def test_eligible_at_is_recomputed_from_facts_while_still_eligible() -> None:
    world = fold(*qualified(template("t")))
    assert doc(world).certificates[0].eligibleAt == at("2026-03-01T00:00:00Z")
    world.apply_all([completed("a", time="2026-02-10T00:00:00Z")])
    assert doc(world).certificates[0].eligibleAt == at("2026-02-10T00:00:00Z")
    assert outbox_of(world)[0]["time"] == "2026-03-01T00:00:00Z"  # already decided
    assert len(outbox_of(world)) == 1


def test_eligible_at_does_not_depend_on_arrival_order() -> None:
    facts = [
        enrolled(time="2026-02-01T00:00:00Z"),
        completed("a", time="2026-03-05T00:00:00Z"),
        completed("b", time="2026-03-02T00:00:00Z"),
        completed("a", time="2026-03-03T00:00:00Z"),
    ]
    rules = [course(leaf_nodes=["a", "b"]), batch_created(templates=[template("t")])]
    forward = fold(*rules, *facts)
    backward = fold(*rules, *reversed(facts))
    assert doc(forward).certificates == doc(backward).certificates
    assert doc(forward).certificates[0].eligibleAt == at("2026-03-03T00:00:00Z")


def test_not_enrolled_learner_is_not_eligible() -> None:
    world = fold(course(leaf_nodes=["a"]), batch_created(templates=[template("t")]), completed("a"))
    assert doc(world).certificates == []
    assert world.certificate_ids() == set()


def test_completion_below_template_percent_is_not_eligible() -> None:
    fresh = fold(
        course(leaf_nodes=["a", "b", "c"]),
        batch_created(templates=[template("t", completion=75)]),
        enrolled(),
        completed("a"),
        completed("b"),
    )
    assert doc(fresh).completionPercentage == 200.0 / 3
    assert doc(fresh).certificates == []


def test_template_completion_percent_below_100_is_enough() -> None:
    world = fold(
        course(leaf_nodes=["a", "b"]),
        batch_created(templates=[template("half", completion=50), template("full")]),
        enrolled(),
        progress("a", 100),
    )
    assert templates_of(world) == ["half"]


def completed_with_min_score(min_score: float) -> list[Any]:
    """user-1 enrolled and done with the one leaf; the course's one assessment `q` not taken."""
    return [
        course(leaf_nodes=["a"], assessments=["q"]),
        batch_created(templates=[template("t", min_score=min_score)]),
        enrolled(),
        completed("a"),
    ]


def test_min_score_must_be_reached() -> None:
    stream = completed_with_min_score(70)
    assert templates_of(fold(*stream, assessment("q", 69.99))) == []
    assert templates_of(fold(*stream, assessment("q", 70))) == ["t"]


def test_a_score_exactly_at_the_minimum_meets_it() -> None:
    """100 x 57 / 100 is 57 (dividing first gave 56.99999999999999: refused at 57)."""
    stream = completed_with_min_score(57)
    world = fold(*stream, assessment("q", 57, max_score=100))
    assert doc(world).scorePercentage == 57.0
    assert templates_of(world) == ["t"]
    assert templates_of(fold(*stream, assessment("q", 29, max_score=50))) == ["t"]  # 58


def test_missing_score_fails_a_min_score() -> None:
    world = fold(
        course(leaf_nodes=["a"], assessments=[]),
        batch_created(templates=[template("t", min_score=0)]),
        enrolled(),
        completed("a"),
    )
    assert doc(world).scorePercentage is None
    assert templates_of(world) == []


def test_no_score_criterion_when_min_score_null() -> None:
    world = fold(
        course(leaf_nodes=["a"], assessments=["q"]),
        batch_created(templates=[template("t")]),
        enrolled(),
        completed("a"),
        assessment("q", 0),
    )
    assert templates_of(world) == ["t"]


def test_full_score_reaches_min_score_100() -> None:
    world = fold(
        course(leaf_nodes=["a"], assessments=["q"]),
        batch_created(templates=[template("t", min_score=100)]),
        enrolled(),
        completed("a"),
        assessment("q", 0.17, 0.17),
    )
    assert doc(world).scorePercentage == 100.0
    assert templates_of(world) == ["t"]


def test_unknown_course_makes_no_one_eligible() -> None:
    world = fold(
        batch_created(templates=[template("t", completion=0)]),
        enrolled(),
        completed("a"),
    )
    assert templates_of(world) == []


def test_unknown_batch_makes_no_one_eligible() -> None:
    world = fold(course(leaf_nodes=["a"]), enrolled(), completed("a"))
    assert templates_of(world) == []
    assert outbox_of(world) == []


def test_cancelled_batch_makes_no_one_eligible() -> None:
    world = fold(
        course(leaf_nodes=["a"]),
        batch_created(templates=[template("t")]),
        batch_cancelled(),
        enrolled(),
        completed("a"),
    )
    assert templates_of(world) == []


def test_eligibility_is_a_latch() -> None:
    world = fold(*qualified(template("t")))
    assert templates_of(world) == ["t"]
    # The learner's cancellation predates completion, so the learner is no longer enrolled:
    # the announcement stays.
    world.apply_all([unenrolled(time="2026-02-15T00:00:00Z")])
    assert doc(world).enrolled is False
    assert templates_of(world) == ["t"]
    assert world.certificate_ids() == {event_id("batch-1", "user-1", "t")}
    assert world.counted()["batch-1"].certifiedCount == 1
    assert world.counted()["batch-1"].enrolledCount == 0


def test_late_cancellation_arriving_first_prevents_eligibility() -> None:
    # The same facts in another order: the cancellation is known before completion is.
    world = fold(
        course(leaf_nodes=["a"]),
        batch_created(templates=[template("t")]),
        enrolled(time="2026-02-01T00:00:00Z"),
        unenrolled(time="2026-02-15T00:00:00Z"),
        completed("a", time="2026-03-01T00:00:00Z"),
    )
    assert templates_of(world) == []


def test_cancellation_after_completion_keeps_eligibility() -> None:
    world = fold(
        course(leaf_nodes=["a"]),
        batch_created(templates=[template("t")]),
        unenrolled(time="2026-03-02T00:00:00Z"),
        enrolled(time="2026-02-01T00:00:00Z"),
        completed("a", time="2026-03-01T00:00:00Z"),
    )
    assert templates_of(world) == ["t"]


def test_template_added_later_makes_qualified_learners_eligible() -> None:
    world = fold(*qualified(template("t1")))
    tpls = [template("t1"), template("t2")]
    world.apply_all([batch_updated(certificateTemplates=tpls)])
    assert templates_of(world) == ["t1", "t2"]
    assert announced(world) == [("batch-1", "user-1", "t1"), ("batch-1", "user-1", "t2")]


def test_criteria_relaxed_later_make_qualified_learners_eligible() -> None:
    world = fold(*qualified(template("t", completion=100), leaves=("a", "b"))[:-1])
    assert templates_of(world) == []
    world.apply_all([batch_updated(certificateTemplates=[template("t", completion=50)])])
    assert templates_of(world) == ["t"]


def test_extended_window_makes_qualified_learners_eligible() -> None:
    world = fold(
        course(leaf_nodes=["a"]),
        batch_created(end="2026-06-30", templates=[template("t")]),
        enrolled(time="2026-02-01T00:00:00Z"),
        completed("a", time="2026-07-02T00:00:00Z"),
    )
    assert templates_of(world) == []
    world.apply_all([batch_updated(endDate="2026-07-31")])
    assert templates_of(world) == ["t"]
    assert doc(world).certificates[0].eligibleAt == at("2026-07-02T00:00:00Z")


def test_republished_course_with_more_leaf_nodes_lowers_completion_but_keeps_certificate() -> None:
    world = fold(*qualified(template("t"), leaves=("a", "b")))
    world.apply_all([course(leaf_nodes=["a", "b", "c", "d"], time="2026-04-01T00:00:00Z")])
    assert doc(world).completionPercentage == 50.0
    assert doc(world).progressStatus == 1
    assert templates_of(world) == ["t"]
    assert doc(world).certificates[0].eligibleAt == at("2026-03-01T00:00:00Z")


def test_stricter_update_keeps_announced_certificate() -> None:
    world = fold(*qualified(template("t", completion=50), leaves=("a", "b"))[:-1])
    assert templates_of(world) == ["t"]
    world.apply_all([batch_updated(certificateTemplates=[template("t", completion=100)])])
    assert templates_of(world) == ["t"]


def test_removed_template_keeps_announced_certificate() -> None:
    world = fold(*qualified(template("t1"), template("t2")))
    world.apply_all([batch_updated(certificateTemplates=[template("t2")])])
    assert templates_of(world) == ["t1", "t2"]


def test_batch_cancelled_after_announcement_keeps_certificate() -> None:
    world = fold(*qualified(template("t")), batch_cancelled())
    assert doc(world).enrolled is False
    assert templates_of(world) == ["t"]
    assert world.counted()["batch-1"].certifiedCount == 1


def test_one_event_per_batch_user_template() -> None:
    stream = qualified(template("t1"), template("t2"))
    world = fold(*stream)
    world.apply_all(
        [
            *stream,
            completed("a", time="2026-02-20T00:00:00Z"),
            batch_updated(name="Renamed"),
            batch_updated(endDate="2027-12-31"),
            course(leaf_nodes=["a"], time="2026-01-09T00:00:00Z"),
        ]
    )
    assert announced(world) == [("batch-1", "user-1", "t1"), ("batch-1", "user-1", "t2")]
    assert [e["id"] for e in outbox_of(world)] == [
        event_id("batch-1", "user-1", "t1"),
        event_id("batch-1", "user-1", "t2"),
    ]


def test_certificates_sorted_by_template_id() -> None:
    world = fold(*qualified(template("zeta"), template("alpha"), template("Mid")))
    assert templates_of(world) == ["Mid", "alpha", "zeta"]


def test_certificate_ids_cover_every_learner_and_batch() -> None:
    world = fold(
        course(leaf_nodes=["a"]),
        batch_created("b1", templates=[template("t")]),
        batch_created("b2", templates=[template("t")]),
        enrolled("u1", "b1"),
        enrolled("u2", "b1"),
        enrolled("u1", "b2"),
        completed("a", "u1", "b1"),
        completed("a", "u2", "b1"),
        completed("a", "u1", "b2"),
        completed("a", "u3", "b2"),  # never enrolled
    )
    assert world.certificate_ids() == {
        event_id("b1", "u1", "t"),
        event_id("b1", "u2", "t"),
        event_id("b2", "u1", "t"),
    }
    counted = world.counted()
    assert (counted["b1"].certifiedCount, counted["b2"].certifiedCount) == (2, 1)


def test_certified_count_counts_learners_not_certificates() -> None:
    world = fold(*qualified(template("t1"), template("t2")), enrolled("user-2"))
    batch = world.counted()["batch-1"]
    assert (batch.enrolledCount, batch.completedCount, batch.certifiedCount) == (2, 1, 1)
