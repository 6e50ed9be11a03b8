"""The derived values of contract 3 and the request of contract 7, as pure functions of the
facts and the rules.

`derive(facts, rules, user_id, upto=...)` also answers "what were the values at business time
`upto`" (counting only facts no later than it): eligibility uses it to find when criteria
were met.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from schemas.documents import BatchDoc, CourseDoc, EnrolmentFact, EnrolmentRequest, LearnerFacts
from schemas.types import day_end, day_start

__all__ = ["ANY_SEAT", "Derived", "Rules", "completion_upto", "derive", "rules_of"]

ANY_SEAT = "*"
"""`held` for a batch without `maximumCapacity`: every request holds a seat."""


@dataclass(frozen=True, slots=True)
class Rules:
    """What the derivation needs to know of a learner's batch and course."""

    window_start: datetime
    window_end: datetime | None  # exclusive; None: no upper bound
    enrol_deadline: datetime | None  # exclusive; None: no deadline
    cancelled: bool
    leaf_nodes: frozenset[str] | None  # None while the course is unknown
    assessments: tuple[str, ...] | None
    invite_only: bool = False
    capacity: int | None = None  # seats; None: no limit
    waitlisting: bool = False

    def counts(self, time: datetime, upto: datetime | None) -> bool:
        """A learner fact counts when inside the window (and no later than the cut-off)."""
        if time < self.window_start or (self.window_end is not None and time >= self.window_end):
            return False
        return upto is None or time <= upto


def rules_of(batch: BatchDoc | None, course: CourseDoc | None) -> Rules | None:
    """The rules for a learner of `batch`; None while the batch is unknown."""
    if batch is None:
        return None
    deadline_day = batch.enrollmentEndDate or batch.endDate
    return Rules(
        window_start=day_start(batch.startDate),
        window_end=day_end(batch.endDate) if batch.endDate else None,
        enrol_deadline=day_end(deadline_day) if deadline_day else None,
        cancelled=batch.cancelled,
        leaf_nodes=frozenset(course.leafNodes) if course else None,
        assessments=tuple(dict.fromkeys(course.assessments)) if course else None,
        invite_only=batch.enrollmentType == "invite-only",
        capacity=batch.maximumCapacity,
        waitlisting=batch.allowWaitlisting,
    )


@dataclass(frozen=True, slots=True)
class Derived:
    """The derived fields of an enrolment document, and the learner's open request."""

    enrolled: bool = False
    progressStatus: int = 0
    completionPercentage: float | None = None
    completedAt: datetime | None = None
    scorePercentage: float | None = None
    request: EnrolmentRequest | None = None


UNKNOWN_BATCH = Derived()


def derive(
    facts: LearnerFacts,
    rules: Rules | None,
    user_id: str,
    upto: datetime | None = None,
    held: str | None = ANY_SEAT,
) -> Derived:
    """Contract 3 and 7: completion, status, completion time, score, the open request, and
    `enrolled`: the request holds a seat (`held`: the opening event id of the seat the
    learner holds, `ANY_SEAT` where seats are unlimited, None where it holds none)."""
    if rules is None:
        return UNKNOWN_BATCH
    pct, status, completed_at = _completion(facts, rules, upto)
    request = _request(facts.enrolments, rules, user_id, upto, status, completed_at)
    seated = request is not None and held in (ANY_SEAT, request.eventId)
    return Derived(
        enrolled=seated,
        progressStatus=status,
        completionPercentage=pct,
        completedAt=completed_at,
        scorePercentage=_score(facts, rules, upto),
        request=request,
    )


def completion_upto(facts: LearnerFacts, rules: Rules, upto: datetime) -> float | None:
    """`completionPercentage` counting only facts no later than `upto`. It never falls as
    `upto` grows (a content counts from its first completion on)."""
    return _completion(facts, rules, upto)[0]


def _completion(
    facts: LearnerFacts, rules: Rules, upto: datetime | None
) -> tuple[float | None, int, datetime | None]:
    if rules.leaf_nodes is None:
        return None, 0, None
    done: list[datetime] = []
    touched = False
    for content in facts.contents:
        if content.contentId not in rules.leaf_nodes:
            continue
        first = next((t for t in content.completed if rules.counts(t, upto)), None)
        if first is not None:
            done.append(first)
        progressed = any(rules.counts(t, upto) for t in content.progress)
        touched = touched or first is not None or progressed
    pct = 100.0 * len(done) / len(rules.leaf_nodes)
    if len(done) == len(rules.leaf_nodes):
        return pct, 2, max(done)
    return pct, 1 if touched else 0, None


def _score(facts: LearnerFacts, rules: Rules, upto: datetime | None) -> float | None:
    best: dict[str, float] = {}
    for assessment in facts.assessments:
        counted = [s.percent for s in assessment.submissions if rules.counts(s.time, upto)]
        if counted:
            best[assessment.assessmentId] = max(counted)
    if rules.assessments:
        # fsum is exact, so the mean does not depend on the order of the terms.
        return math.fsum(best.get(a, 0.0) for a in rules.assessments) / len(rules.assessments)
    if best:
        return math.fsum(best.values()) / len(best)
    return None


def counted_creation(fact: EnrolmentFact, rules: Rules, user_id: str) -> bool:
    """An `enrolment.created` counts before the deadline, unless it is a self-enrolment in an
    invite-only batch (contract 7)."""
    if rules.enrol_deadline is not None and fact.time >= rules.enrol_deadline:
        return False
    return not (rules.invite_only and fact.enrolledBy == user_id)


def _request(
    enrolments: list[EnrolmentFact],
    rules: Rules,
    user_id: str,
    upto: datetime | None,
    status: int,
    completed_at: datetime | None,
) -> EnrolmentRequest | None:
    """Contract 3 and 7: the learner's open request, with the time and id of the
    `enrolment.created` that opened it; None without one (or in a cancelled batch)."""

    def counted(f: EnrolmentFact) -> bool:
        if upto is not None and f.time > upto:
            return False
        if f.kind == "created":
            return counted_creation(f, rules, user_id)
        # A learner who completed cannot be unenrolled by a later cancellation.
        return status < 2 or (completed_at is not None and f.time <= completed_at)

    considered = sorted((f for f in enrolments if counted(f)), key=lambda f: (f.time, f.id))
    if rules.cancelled or not considered or considered[-1].kind != "created":
        return None
    opening = considered[-1]
    for fact in reversed(considered):
        if fact.kind != "created":
            break
        opening = fact  # the earliest created after the latest cancellation
    return EnrolmentRequest(time=opening.time, eventId=opening.id)
