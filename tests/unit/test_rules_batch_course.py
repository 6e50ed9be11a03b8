"""Contract section 2 (batch and course events in the fold) and the design decisions on them."""

from __future__ import annotations

from services.domain import Redriven, apply_batch_events
from testkit.world import World
from tests.unit.builders import (
    at,
    batch_cancelled,
    batch_created,
    batch_updated,
    completed,
    course,
    doc,
    enrolled,
    fold,
    template,
)


def reasons(world: World) -> list[str]:
    return [r.reason for _, r in world.rejections]


def test_batch_created_sets_fields() -> None:
    world = fold(
        batch_created(
            "b",
            "c",
            name="Autumn",
            start="2026-09-01",
            enrol_end="2026-09-15",
            end="2026-12-15",
            mentors=["m"],
            templates=[template("t", completion=80, min_score=50, name="Gold")],
        )
    )
    batch = world.batches["b"]
    assert (batch.courseId, batch.name, batch.startDate) == ("c", "Autumn", "2026-09-01")
    assert (batch.enrollmentEndDate, batch.endDate, batch.mentors) == (
        "2026-09-15",
        "2026-12-15",
        ["m"],
    )
    (tpl,) = batch.certificateTemplates
    assert (tpl.templateId, tpl.name) == ("t", "Gold")
    assert (tpl.criteria.completionPercent, tpl.criteria.minScorePercent) == (80.0, 50.0)
    assert batch.cancelled is False
    assert world.rejections == []


def test_second_batch_created_replaces_fields() -> None:
    world = fold(
        batch_created(name="First", end="2026-06-30", templates=[template("t1")], mentors=["m"]),
        batch_created(name="Second", end=None, templates=[template("t2")]),
    )
    batch = world.batches["batch-1"]
    assert (batch.name, batch.endDate, batch.mentors) == ("Second", None, [])
    assert [t.templateId for t in batch.certificateTemplates] == ["t2"]


def test_second_batch_created_may_change_the_course() -> None:
    world = fold(
        course("c1", leaf_nodes=["a"]),
        course("c2", leaf_nodes=["a", "b"]),
        batch_created(course_id="c1"),
        completed("a"),
        batch_created(course_id="c2"),
    )
    assert doc(world).courseId == "c2"
    assert doc(world).completionPercentage == 50.0


def test_batch_created_after_cancelled_keeps_batch_cancelled() -> None:
    world = fold(
        batch_created(),
        batch_cancelled(reason="closed"),
        batch_created(name="Reopened?"),
        enrolled(),
    )
    batch = world.batches["batch-1"]
    assert batch.cancelled is True
    assert batch.name == "Reopened?"
    assert doc(world).enrolled is False


def test_batch_cancelled_records_reason() -> None:
    world = fold(batch_created(), batch_cancelled(reason="low demand"))
    assert world.batches["batch-1"].cancelled is True
    assert world.batches["batch-1"].cancelReason == "low demand"


def test_batch_updated_changes_only_present_fields() -> None:
    world = fold(
        batch_created(name="Old", end="2026-06-30", mentors=["m1"], templates=[template("t")]),
        batch_updated(name="New", mentors=["m2", "m3"]),
    )
    batch = world.batches["batch-1"]
    assert (batch.name, batch.mentors) == ("New", ["m2", "m3"])
    assert (batch.endDate, batch.startDate) == ("2026-06-30", "2026-01-01")
    assert [t.templateId for t in batch.certificateTemplates] == ["t"]


def test_batch_updated_null_end_date_removes_end_date() -> None:
    world = fold(batch_created(end="2026-06-30"), batch_updated(endDate=None))
    assert world.batches["batch-1"].endDate is None
    assert world.rejections == []


def test_batch_updated_cannot_change_course_id() -> None:
    created = batch_created(course_id="c1")
    world = fold(created, batch_updated(courseId="c2", name="Changed"))
    assert world.batches["batch-1"].courseId == "c1"
    assert world.batches["batch-1"].name == "Batch"
    assert reasons(world) == ["batch.updated cannot change courseId"]


def test_batch_updated_with_the_same_course_id_is_accepted() -> None:
    world = fold(batch_created(course_id="c1"), batch_updated(courseId="c1", name="Renamed"))
    assert world.batches["batch-1"].name == "Renamed"
    assert world.rejections == []


def test_batch_updated_leaving_dates_out_of_order_is_rejected() -> None:
    # A batch.created with dates out of order never parses (see test_rules_envelope); an update
    # that leaves the merged dates out of order is rejected by the fold.
    for change in (
        {"startDate": "2026-07-01"},
        {"endDate": "2026-01-31"},
        {"enrollmentEndDate": "2026-07-01"},
        {"startDate": "2026-02-01", "enrollmentEndDate": "2026-01-15"},
    ):
        created = batch_created(start="2026-01-01", enrol_end="2026-02-28", end="2026-06-30")
        world = fold(course(leaf_nodes=["a"]), created, completed("a"), batch_updated(**change))
        assert world.batches["batch-1"] == fold(created).batches["batch-1"], change
        assert len(world.rejections) == 1, change
        assert "dates out of order" in reasons(world)[0]


def test_batch_updated_leaving_dates_out_of_order_keeps_the_batch_unchanged() -> None:
    world = fold(
        batch_created(start="2026-01-01", end="2026-06-30"),
        batch_updated(startDate="2026-08-01", name="Rejected"),
    )
    batch = world.batches["batch-1"]
    assert (batch.startDate, batch.name) == ("2026-01-01", "Batch")


def test_batch_updated_keeping_dates_in_order_is_accepted() -> None:
    world = fold(
        batch_created(start="2026-01-01", enrol_end="2026-02-28", end="2026-06-30"),
        batch_updated(startDate="2026-02-28", enrollmentEndDate=None, endDate="2026-02-28"),
    )
    batch = world.batches["batch-1"]
    assert (batch.startDate, batch.enrollmentEndDate, batch.endDate) == (
        "2026-02-28",
        None,
        "2026-02-28",
    )


def test_batch_updated_for_unknown_batch_is_rejected() -> None:
    world = fold(batch_updated("ghost", name="x"))
    assert world.batches == {}
    assert reasons(world) == ["batch.updated for batch never created"]


def test_batch_cancelled_for_unknown_batch_is_rejected() -> None:
    world = fold(batch_cancelled("ghost"), batch_created("ghost"))
    assert world.batches["ghost"].cancelled is False
    assert reasons(world) == ["batch.cancelled for batch never created"]


def test_a_batch_event_read_again_is_skipped_by_its_id() -> None:
    created, updated, cancelled = (
        batch_created(end="2026-06-30"),
        batch_updated(endDate="2026-07-31"),
        batch_cancelled(),
    )
    world = fold(created, updated, cancelled)
    expected = world.batches["batch-1"]
    # Re-reading earlier events: nothing rolls back, not even the created fields.
    world.apply_all([created, updated])
    assert world.batches["batch-1"] == expected


def test_a_replayed_batch_created_does_not_roll_back_an_update() -> None:
    created = batch_created(end="2026-06-30")
    world = fold(created, batch_updated(endDate="2026-07-31"), created)
    assert world.batches["batch-1"].endDate == "2026-07-31"


def test_a_new_batch_event_applies_wherever_it_was_read() -> None:
    # Positions play no part: a new id applies after a topic restarted its offsets at 0.
    world = fold(batch_created(end="2026-06-30"), batch_updated(endDate="2026-07-31"))
    assert world.batches["batch-1"].endDate == "2026-07-31"


def test_an_update_with_a_known_id_is_a_resend_and_changes_nothing() -> None:
    update = batch_updated(endDate="2026-07-31", id="u1")
    resent = batch_updated(endDate="2026-07-31", id="u1")
    world = fold(batch_created(end="2026-06-30"), update, batch_updated(endDate="2026-09-30"))
    world.apply_all([resent])
    assert world.batches["batch-1"].endDate == "2026-09-30"


def test_a_rejected_batch_event_is_not_applied_again_on_replay() -> None:
    items = [batch_created(course_id="c1"), batch_updated(courseId="c2")]
    world = fold(*items, *items)
    assert len(world.rejections) == 1


def test_a_refused_update_read_again_after_the_batch_moved_on_stays_refused() -> None:
    # Refused the first time (dates out of order); valid against the extended batch, but a
    # re-read must not change what was decided.
    refused = batch_updated(enrollmentEndDate="2026-08-31")
    world = fold(batch_created(end="2026-06-30"), refused, batch_updated(endDate="2026-12-31"))
    world.apply_all([refused])
    assert world.batches["batch-1"].enrollmentEndDate is None


def test_an_update_refused_before_its_batch_existed_stays_refused_when_read_again() -> None:
    orphan = batch_updated(endDate="2026-09-30")
    world = fold(orphan, batch_created(end="2026-06-30"), orphan)
    assert world.batches["batch-1"].endDate == "2026-06-30"
    assert len(world.rejections) == 1


def test_the_domain_skips_known_ids_and_reports_what_it_consumed() -> None:
    created, update, orphan = (
        batch_created(id="c"),
        batch_updated(endDate="2026-07-31", id="u"),
        batch_updated("other", endDate="2026-07-31", id="o"),
    )
    fold_ = apply_batch_events(None, [created, update, update], applied=set())
    assert fold_.consumed == ["c", "u"] and fold_.batch is not None
    assert fold_.batch.endDate == "2026-07-31"
    again = apply_batch_events(fold_.batch, [created, update], applied={"c", "u"})
    assert (again.batch, again.consumed, again.rejected) == (fold_.batch, [], [])
    never = apply_batch_events(None, [orphan], applied=set())
    assert never.consumed == ["o"], "refused for a batch never created: consumed all the same"
    assert [r.reason for _, r in never.rejected] == ["batch.updated for batch never created"]


def test_a_redriven_update_refused_before_its_batch_existed_applies_once_it_exists() -> None:
    orphan = batch_updated(endDate="2026-09-30", id="o")
    first = apply_batch_events(None, [orphan], applied=set())
    assert first.refused == {"o"} and first.batch is None
    created = apply_batch_events(None, [batch_created(end="2026-06-30", id="c")], applied={"o"})
    assert created.batch is not None
    # A plain re-read stays refused; the operator's redrive tries it again.
    plain = apply_batch_events(created.batch, [orphan], applied={"o", "c"}, refused_before={"o"})
    assert plain.consumed == [] and plain.batch == created.batch
    again = apply_batch_events(
        created.batch, [Redriven(orphan)], applied={"o", "c"}, refused_before={"o"}
    )
    assert again.batch is not None and again.batch.endDate == "2026-09-30"
    assert (again.consumed, again.refused) == (["o"], frozenset()), "now remembered as applied"


def test_a_redriven_event_applied_before_is_not_applied_twice() -> None:
    update = batch_updated(endDate="2026-09-30", id="u")
    created = apply_batch_events(None, [batch_created(id="c"), update], applied=set())
    again = apply_batch_events(created.batch, [Redriven(update)], applied={"c", "u"})
    assert again.consumed == [] and again.batch == created.batch


def test_in_one_run_a_redriven_copy_retries_what_its_original_was_refused() -> None:
    # A replay reads the original (refused: no batch yet), the creation, then the copy.
    orphan = batch_updated(endDate="2026-09-30", id="o")
    run = apply_batch_events(
        None, [orphan, batch_created(end="2026-06-30", id="c"), Redriven(orphan)], applied=set()
    )
    assert run.batch is not None and run.batch.endDate == "2026-09-30"
    assert run.consumed == ["o", "c", "o"] and run.refused == frozenset()
    refused_twice = apply_batch_events(None, [orphan, Redriven(orphan)], applied=set())
    assert refused_twice.refused == {"o"} and len(refused_twice.rejected) == 2


def test_course_published_keeps_leaf_nodes_and_assessments_as_sets() -> None:
    world = fold(course(leaf_nodes=["b", "a", "b"], assessments=["q", "q", "p"], name="Intro"))
    stored = world.courses["course-1"]
    assert (stored.leafNodes, stored.assessments, stored.name) == (["b", "a"], ["q", "p"], "Intro")
    assert stored.publishedAt == at("2026-01-01T00:00:00Z")


def test_replayed_course_published_changes_nothing() -> None:
    first = course(leaf_nodes=["a"], time="2026-01-01T00:00:00Z")
    second = course(leaf_nodes=["a", "b"], time="2026-02-01T00:00:00Z")
    world = fold(first, second, batch_created(), completed("a"), first)
    assert world.courses["course-1"].leafNodes == ["a", "b"]
    assert doc(world).completionPercentage == 50.0


def test_course_of_another_batch_does_not_affect_learners() -> None:
    world = fold(
        course("c1", leaf_nodes=["a"]),
        batch_created(course_id="c1"),
        completed("a"),
        course("c2", leaf_nodes=["a", "b"]),
    )
    assert doc(world).completionPercentage == 100.0


def test_batch_without_end_date_far_in_the_future_is_folded() -> None:
    world = fold(
        course(leaf_nodes=["a"]),
        batch_created(start="9999-12-01", end=None),
        enrolled(time="9999-12-01T00:00:00Z"),
        completed("a", time="9999-12-31T23:59:59.999Z"),
    )
    assert doc(world).enrolled is True
    assert doc(world).completionPercentage == 100.0


def test_batch_ending_on_the_last_representable_day_is_folded() -> None:
    world = fold(
        course(leaf_nodes=["a"]),
        batch_created(end="9999-12-31"),
        enrolled(time="2026-02-01T00:00:00Z"),
        completed("a", time="9999-12-31T23:59:59.999Z"),
    )
    assert doc(world).enrolled is True
    assert doc(world).completionPercentage == 100.0
