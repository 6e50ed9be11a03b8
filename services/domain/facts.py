"""Adding a learner fact to the facts kept in an enrolment document.

Every function here is a set union in disguise: adding a fact twice, or facts in any order,
gives the same value. Lists are kept sorted so that equal sets are equal documents.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
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

__all__ = ["add_all", "add_fact"]


def add_fact(facts: LearnerFacts, event: LearnerEvent) -> LearnerFacts:
    """Return the facts with this event's fact added (a no-op for a fact already known)."""
    return _ADDERS[type(event)](facts, event)


def add_all(facts: LearnerFacts, events: Iterable[LearnerEvent]) -> LearnerFacts:
    """The facts with every one of these events' facts added: the value `add_fact` gives one
    event at a time, computed in one pass (each content and assessment rebuilt once, not once
    per fact: a replay or a backlog brings a learner's facts together)."""
    new = _Gathered()
    for event in events:
        new.add(event)
    if new.empty():
        return facts
    return facts.model_copy(
        update={
            "enrolments": _merged_enrolments(facts.enrolments, new.enrolments),
            "contents": _merged_contents(facts.contents, new.completed, new.progress),
            "assessments": _merged_assessments(facts.assessments, new.submissions),
        }
    )


class _Gathered:
    """New facts by kind, in arrival order."""

    def __init__(self) -> None:
        self.enrolments: list[EnrolmentFact] = []
        self.completed: dict[str, list[datetime]] = {}
        self.progress: dict[str, list[datetime]] = {}
        self.submissions: dict[str, list[Submission]] = {}

    def empty(self) -> bool:
        return not (self.enrolments or self.completed or self.progress or self.submissions)

    def add(self, event: LearnerEvent) -> None:
        if isinstance(event, EnrolmentCreated | EnrolmentCancelled):
            self.enrolments.append(_enrolment_fact(event))
        elif isinstance(event, ContentCompleted):
            self.completed.setdefault(event.data.contentId, []).append(event.time)
        elif isinstance(event, ContentProgress):
            kind = self.completed if event.data.progress >= 100 else self.progress
            kind.setdefault(event.data.contentId, []).append(event.time)
        else:
            sub = Submission(time=event.time, percent=event.data.percent)
            self.submissions.setdefault(event.data.assessmentId, []).append(sub)


def _merged_enrolments(known: list[EnrolmentFact], new: list[EnrolmentFact]) -> list[EnrolmentFact]:
    merged = list(known)
    for fact in new:
        if fact not in merged:
            merged.append(fact)
    return sorted(merged, key=lambda f: (f.time, f.id, f.kind))


def _merged_contents(
    known: list[ContentFacts],
    completed: dict[str, list[datetime]],
    progress: dict[str, list[datetime]],
) -> list[ContentFacts]:
    by_id = {c.contentId: c for c in known}
    for content_id in completed.keys() | progress.keys():
        current = by_id.get(content_id) or ContentFacts(contentId=content_id)
        by_id[content_id] = current.model_copy(
            update={
                "completed": _earliest_of_each_day(current.completed, completed.get(content_id)),
                "progress": _earliest_of_each_day(current.progress, progress.get(content_id)),
            }
        )
    return sorted(by_id.values(), key=lambda c: c.contentId)


def _earliest_of_each_day(times: list[datetime], new: list[datetime] | None) -> list[datetime]:
    if not new:
        return times
    earliest: dict[date, datetime] = {}
    for t in [*times, *new]:
        day = t.date()
        if day not in earliest or t < earliest[day]:
            earliest[day] = t
    return sorted(earliest.values())


def _merged_assessments(
    known: list[AssessmentFacts], new: dict[str, list[Submission]]
) -> list[AssessmentFacts]:
    by_id = {a.assessmentId: a for a in known}
    for aid, subs in new.items():
        current = by_id[aid].submissions if aid in by_id else []
        by_id[aid] = AssessmentFacts(assessmentId=aid, submissions=_frontiers(current, subs))
    return sorted(by_id.values(), key=lambda a: a.assessmentId)


def _frontiers(known: list[Submission], new: list[Submission]) -> list[Submission]:
    """`_frontier_per_day` of all of them at once: a submission dominated in a set stays
    dominated in any larger set, so the frontier of the union is the same."""
    by_day: dict[date, list[Submission]] = {}
    for sub in [*known, *new]:
        by_day.setdefault(sub.time.date(), []).append(sub)
    kept: list[Submission] = []
    for subs in by_day.values():
        best: float | None = None
        for sub in sorted(subs, key=lambda s: (s.time, -s.percent)):
            if best is None or sub.percent > best:
                kept.append(sub)
                best = sub.percent
    return sorted(kept, key=lambda s: (s.time, s.percent))


def _enrolment_fact(event: EnrolmentCreated | EnrolmentCancelled) -> EnrolmentFact:
    return EnrolmentFact(
        id=event.id,
        kind="created" if isinstance(event, EnrolmentCreated) else "cancelled",
        time=event.time,
        courseId=getattr(event.data, "courseId", None),
        enrolledBy=getattr(event.data, "enrolledBy", None),
    )


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
    fact = _enrolment_fact(event)
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
