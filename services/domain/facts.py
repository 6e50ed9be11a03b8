"""Adding a learner fact to the facts kept in an enrolment document.

Every function here is a set union in disguise: adding a fact twice, or facts in any order,
gives the same value. Lists are kept sorted so that equal sets are equal documents.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from schemas.documents import (
    AssessmentFacts,
    ContentFacts,
    EnrolmentFact,
    LearnerFacts,
    Submission,
)
from schemas.events import (
    AssessmentSubmitted,
    ContentCompleted,
    ContentProgress,
    EnrolmentCancelled,
    EnrolmentCreated,
    LearnerEvent,
)

__all__ = ["add_fact"]


def add_fact(facts: LearnerFacts, event: LearnerEvent) -> LearnerFacts:
    """Return the facts with this event's fact added (a no-op for a fact already known)."""
    return _ADDERS[type(event)](facts, event)


def _earliest_per_day(times: list[datetime], new: datetime) -> list[datetime]:
    """Keep, per UTC day, only the earliest time: windows are whole days, so it answers them all."""
    day = new.date()
    kept = [t for t in times if t.date() != day]
    same_day = [t for t in times if t.date() == day]
    return sorted([*kept, min([*same_day, new])])


def _frontier_per_day(subs: list[Submission], new: Submission) -> list[Submission]:
    """Keep, per UTC day, the submissions that beat every earlier one of the same day.

    For any window of whole days and any cut-off time, the best submission inside is one of these.
    """
    day = new.time.date()
    others = [s for s in subs if s.time.date() != day]
    candidates = sorted(
        [s for s in subs if s.time.date() == day] + [new], key=lambda s: (s.time, -s.percent)
    )
    frontier: list[Submission] = []
    for s in candidates:
        if not frontier or s.percent > frontier[-1].percent:
            frontier.append(s)
    return sorted([*others, *frontier], key=lambda s: (s.time, s.percent))


def _with_content(
    facts: LearnerFacts, content_id: str, change: Callable[[ContentFacts], ContentFacts]
) -> LearnerFacts:
    current = next((c for c in facts.contents if c.contentId == content_id), None)
    updated = change(current or ContentFacts(contentId=content_id))
    rest = [c for c in facts.contents if c.contentId != content_id]
    return facts.model_copy(
        update={"contents": sorted([*rest, updated], key=lambda c: c.contentId)}
    )


def _completed(facts: LearnerFacts, content_id: str, time: datetime) -> LearnerFacts:
    return _with_content(
        facts,
        content_id,
        lambda c: c.model_copy(update={"completed": _earliest_per_day(c.completed, time)}),
    )


def _add_content_completed(facts: LearnerFacts, event: Any) -> LearnerFacts:
    assert isinstance(event, ContentCompleted)
    return _completed(facts, event.data.contentId, event.time)


def _add_content_progress(facts: LearnerFacts, event: Any) -> LearnerFacts:
    assert isinstance(event, ContentProgress)
    if event.data.progress >= 100:
        return _completed(facts, event.data.contentId, event.time)
    return _with_content(
        facts,
        event.data.contentId,
        lambda c: c.model_copy(update={"progress": _earliest_per_day(c.progress, event.time)}),
    )


def _add_enrolment(facts: LearnerFacts, event: Any) -> LearnerFacts:
    assert isinstance(event, EnrolmentCreated | EnrolmentCancelled)
    fact = EnrolmentFact(
        id=event.id,
        kind="created" if isinstance(event, EnrolmentCreated) else "cancelled",
        time=event.time,
        courseId=getattr(event.data, "courseId", None),
        enrolledBy=getattr(event.data, "enrolledBy", None),
    )
    if fact in facts.enrolments:
        return facts
    merged = sorted([*facts.enrolments, fact], key=lambda f: (f.time, f.id, f.kind))
    return facts.model_copy(update={"enrolments": merged})


def _add_submission(facts: LearnerFacts, event: Any) -> LearnerFacts:
    assert isinstance(event, AssessmentSubmitted)
    aid = event.data.assessmentId
    current = next((a for a in facts.assessments if a.assessmentId == aid), None)
    subs = current.submissions if current else []
    new = Submission(time=event.time, percent=event.data.percent)
    updated = AssessmentFacts(assessmentId=aid, submissions=_frontier_per_day(subs, new))
    rest = [a for a in facts.assessments if a.assessmentId != aid]
    return facts.model_copy(
        update={"assessments": sorted([*rest, updated], key=lambda a: a.assessmentId)}
    )


_ADDERS: dict[type, Callable[[LearnerFacts, Any], LearnerFacts]] = {
    EnrolmentCreated: _add_enrolment,
    EnrolmentCancelled: _add_enrolment,
    ContentProgress: _add_content_progress,
    ContentCompleted: _add_content_completed,
    AssessmentSubmitted: _add_submission,
}
