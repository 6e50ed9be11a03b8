"""A certificate's `eligibleAt` is the earliest fact time at which the facts up to then met
the template (contract 4), found by a search over the completion rather than a scan of every
fact time: the two must agree, whatever the facts and the criteria."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.documents import EnrolmentDoc
from services.domain.derive import derive, rules_of
from services.domain.eligibility import meets
from testkit.world import World
from tests.unit.builders import (
    assessment,
    batch_created,
    completed,
    course,
    doc,
    enrolled,
    progress,
    template,
    unenrolled,
)

LEAVES = ("a", "b", "c")


def _time(day: int) -> str:
    return f"2026-03-{day:02d}T10:00:00Z"


def _fact(kind: str, day: int, content: str, value: float) -> Any:
    time = _time(day)
    if kind == "enrolled":
        return enrolled(time=time)
    if kind == "unenrolled":
        return unenrolled(time=time)
    if kind == "completed":
        return completed(content, time=time)
    if kind == "progress":
        return progress(content, value, time=time)
    return assessment(content, value, time=time, attempt_id=f"attempt-{day}")


facts = st.lists(
    st.tuples(
        st.sampled_from(["enrolled", "unenrolled", "completed", "progress", "assessment"]),
        st.integers(1, 28),
        st.sampled_from(LEAVES),
        st.sampled_from([0.0, 40.0, 70.0, 100.0]),
    ),
    min_size=1,
    max_size=14,
)


def _scanned(learner: EnrolmentDoc, world: World, template_id: str) -> datetime | None:
    """The definition: every fact time in order, the first whose values meet the template."""
    batch = world.batches[learner.batchId]
    rules = rules_of(batch, world.courses[batch.courseId])
    assert rules is not None
    wanted = next(t for t in batch.certificateTemplates if t.templateId == template_id)
    times = sorted(
        {f.time for f in learner.facts.enrolments}
        | {t for c in learner.facts.contents for t in (*c.completed, *c.progress)}
        | {s.time for a in learner.facts.assessments for s in a.submissions}
    )
    for time in times:
        if meets(derive(learner.facts, rules, learner.userId, upto=time), wanted):
            return time
    return None


@settings(max_examples=2000, deadline=None)
@given(
    facts=facts,
    completion=st.sampled_from([0.0, 33.4, 66.6, 100.0]),
    min_score=st.sampled_from([None, 0.0, 50.0, 70.0]),
    assessed=st.sampled_from([(), ("a", "b")]),
)
def test_eligible_at_is_the_first_fact_time_that_meets_the_template(
    facts: list[tuple[str, int, str, float]],
    completion: float,
    min_score: float | None,
    assessed: tuple[str, ...],
) -> None:
    world = World().apply_all(
        [
            course(leaf_nodes=LEAVES, assessments=assessed),
            batch_created(templates=[template("t", completion=completion, min_score=min_score)]),
        ]
    )
    # Fact by fact, as they arrive. A certificate latches in the first fold whose learner meets
    # the template; from then on, whenever the learner meets it, its time follows the facts (a
    # late fact may show it was met earlier). A fold that does not meet it leaves it as it was:
    # a later fact cannot take it back, not even one at the same time that wins a tie.
    before: datetime | None = None
    for fact in facts:
        world.apply(_fact(*fact))
        learner = doc(world)
        meets_now = (
            learner.enrolled
            and learner.completionPercentage is not None
            and learner.completionPercentage >= completion
            and (
                min_score is None
                or (learner.scorePercentage is not None and learner.scorePercentage >= min_score)
            )
        )
        latched = next((c.eligibleAt for c in learner.certificates if c.templateId == "t"), None)
        if meets_now:
            assert latched is not None and latched == _scanned(learner, world, "t")
        else:
            assert latched == before
        before = latched
