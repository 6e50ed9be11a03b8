"""The derived values of contract 3, as pure functions of the facts and the rules.

`derive(facts, rules, upto)` also answers "what were the values at business time `upto`"
(counting only facts no later than it): eligibility uses it to find when criteria were met.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from schemas.documents import BatchDoc, CourseDoc, EnrolmentFact, LearnerFacts
from schemas.types import day_end, day_start

__all__ = ["Derived", "Rules", "derive", "rules_of"]


@dataclass(frozen=True, slots=True)
class Rules:
    """What the derivation needs to know of a learner's batch and course."""

    window_start: datetime
    window_end: datetime | None  # exclusive; None: no upper bound
    enrol_deadline: datetime | None  # exclusive; None: no deadline
    cancelled: bool
    leaf_nodes: frozenset[str] | None  # None while the course is unknown
    assessments: tuple[str, ...] | None

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
    )


@dataclass(frozen=True, slots=True)
class Derived:
    """The derived fields of an enrolment document."""

    enrolled: bool = False
    progressStatus: int = 0
    completionPercentage: float | None = None
    completedAt: datetime | None = None
    scorePercentage: float | None = None


UNKNOWN_BATCH = Derived()


def derive(facts: LearnerFacts, rules: Rules | None, upto: datetime | None = None) -> Derived:
    """Contract 3: completion, status, completion time, score and enrolment of one learner."""
    if rules is None:
        return UNKNOWN_BATCH
    pct, status, completed_at = _completion(facts, rules, upto)
    return Derived(
        enrolled=_enrolled(facts.enrolments, rules, upto, status, completed_at),
        progressStatus=status,
        completionPercentage=pct,
        completedAt=completed_at,
        scorePercentage=_score(facts, rules, upto),
    )


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


def _enrolled(
    enrolments: list[EnrolmentFact],
    rules: Rules,
    upto: datetime | None,
    status: int,
    completed_at: datetime | None,
) -> bool:
    def relevant(f: EnrolmentFact) -> bool:
        if upto is not None and f.time > upto:
            return False
        if f.kind == "created":
            return rules.enrol_deadline is None or f.time < rules.enrol_deadline
        # A learner who completed cannot be unenrolled by a later cancellation.
        return status < 2 or (completed_at is not None and f.time <= completed_at)

    considered = [f for f in enrolments if relevant(f)]
    if not considered:
        return False
    latest = max(considered, key=lambda f: (f.time, f.id))
    return latest.kind == "created" and not rules.cancelled
