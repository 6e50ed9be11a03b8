"""Certificate eligibility (contract 4): decide, latch, and put the announcement in the outbox."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import reduce

from schemas.documents import BatchDoc, Certificate, CourseDoc, EnrolmentDoc, LearnerFacts
from schemas.events import CertificateTemplate, LearnerEvent
from schemas.outbound import CertificateEligible, CertificateEligibleData, certificate_event_id
from schemas.types import format_time
from services.domain.derive import Derived, Rules, derive, rules_of
from services.domain.facts import add_fact

__all__ = ["fold_learner", "meets", "refresh"]


def fold_learner(
    doc: EnrolmentDoc,
    events: Iterable[LearnerEvent],
    batch: BatchDoc | None,
    course: CourseDoc | None,
) -> EnrolmentDoc:
    """Add the learner's facts, then recompute everything derived from them."""
    facts = reduce(add_fact, events, doc.facts)
    return refresh(doc.model_copy(update={"facts": facts}), batch, course)


def refresh(doc: EnrolmentDoc, batch: BatchDoc | None, course: CourseDoc | None) -> EnrolmentDoc:
    """Recompute the derived values and latch any new eligibility (with its outbox event)."""
    rules = rules_of(batch, course)
    now = derive(doc.facts, rules)
    certificates, announcements = _latch(doc, now, rules, batch)
    return doc.model_copy(
        update={
            "courseId": batch.courseId if batch else _course_hint(doc.facts),
            "enrolled": now.enrolled,
            "progressStatus": now.progressStatus,
            "completionPercentage": now.completionPercentage,
            "completedAt": now.completedAt,
            "scorePercentage": now.scorePercentage,
            "certificates": certificates,
            "outbox": [*doc.outbox, *announcements],
        }
    )


def meets(values: Derived, template: CertificateTemplate) -> bool:
    """Whether a learner with these values qualifies for the template (batch not cancelled is
    part of `enrolled`)."""
    criteria = template.criteria
    if not values.enrolled or values.completionPercentage is None:
        return False
    if values.completionPercentage < criteria.completionPercent:
        return False
    if criteria.minScorePercent is None:
        return True
    return values.scorePercentage is not None and values.scorePercentage >= criteria.minScorePercent


def _course_hint(facts: LearnerFacts) -> str | None:
    """While the batch is unknown, the courseId of the latest enrolment that names one."""
    named = [f for f in facts.enrolments if f.courseId is not None]
    return max(named, key=lambda f: (f.time, f.id)).courseId if named else None


def _latch(
    doc: EnrolmentDoc, now: Derived, rules: Rules | None, batch: BatchDoc | None
) -> tuple[list[Certificate], list[CertificateEligible]]:
    held = {c.templateId: c for c in doc.certificates}
    announcements: list[CertificateEligible] = []
    if batch is None or rules is None:
        return doc.certificates, announcements
    for template in batch.certificateTemplates:
        if not meets(now, template):
            continue  # a latched certificate stays as it is: eligibility is never withdrawn
        at, then = _eligible_at(doc.facts, rules, template)
        known = held.get(template.templateId)
        if known is not None:
            # A fact that arrived late may show the criteria were met earlier: the document
            # follows the facts, the event already sent keeps its id.
            held[template.templateId] = known.model_copy(update={"eligibleAt": at})
            continue
        event = _announcement(doc, batch, template, at, then)
        held[template.templateId] = Certificate(
            templateId=template.templateId, eventId=event.id, eligibleAt=at
        )
        announcements.append(event)
    return sorted(held.values(), key=lambda c: c.templateId), announcements


def _fact_times(facts: LearnerFacts) -> list[datetime]:
    times = {f.time for f in facts.enrolments}
    for content in facts.contents:
        times.update(content.completed, content.progress)
    for assessment in facts.assessments:
        times.update(s.time for s in assessment.submissions)
    return sorted(times)


def _eligible_at(
    facts: LearnerFacts, rules: Rules, template: CertificateTemplate
) -> tuple[datetime, Derived]:
    """The earliest fact time at which the facts up to then met the template, and the values
    then: the business time of the eligibility, whatever order the facts arrived in."""
    times = _fact_times(facts)
    for time in times:
        values = derive(facts, rules, upto=time)
        if meets(values, template):
            return time, values
    return times[-1], derive(facts, rules)  # unreachable while `meets` holds for all facts


def _announcement(
    doc: EnrolmentDoc, batch: BatchDoc, template: CertificateTemplate, at: datetime, then: Derived
) -> CertificateEligible:
    return CertificateEligible(
        id=certificate_event_id(doc.batchId, doc.userId, template.templateId),
        time=format_time(at),
        data=CertificateEligibleData(
            batchId=doc.batchId,
            courseId=batch.courseId,
            userId=doc.userId,
            templateId=template.templateId,
            completionPercentage=then.completionPercentage or 0.0,
            scorePercentage=then.scorePercentage,
            completedAt=format_time(then.completedAt) if then.completedAt else None,
        ),
    )
