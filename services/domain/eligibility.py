"""Certificate eligibility (contract 4): decide, latch, and put the announcement in the outbox."""

from __future__ import annotations

from bisect import bisect_left
from datetime import datetime

from schemas.documents import BatchDoc, Certificate, EnrolmentDoc, LearnerFacts
from schemas.events import CertificateTemplate
from schemas.outbound import CertificateEligible, CertificateEligibleData, certificate_event_id
from schemas.types import format_time
from services.domain.derive import ANY_SEAT, Derived, Rules, completion_upto, derive

__all__ = ["latch_certificates", "latched_announcements", "meets"]


def meets(values: Derived, template: CertificateTemplate) -> bool:
    """Whether a learner with these values qualifies for the template (a seat in a batch not
    cancelled is part of `enrolled`)."""
    criteria = template.criteria
    if not values.enrolled or values.completionPercentage is None:
        return False
    if values.completionPercentage < criteria.completionPercent:
        return False
    if criteria.minScorePercent is None:
        return True
    return values.scorePercentage is not None and values.scorePercentage >= criteria.minScorePercent


def latch_certificates(
    doc: EnrolmentDoc, now: Derived, rules: Rules, batch: BatchDoc, held: str | None
) -> tuple[list[Certificate], list[CertificateEligible]]:
    """The learner's certificates after this evaluation, and the announcements of those met
    for the first time (`held`: the seat the learner holds, as in `derive`)."""
    certificates = {c.templateId: c for c in doc.certificates}
    announcements: list[CertificateEligible] = []
    for template in batch.certificateTemplates:
        if not meets(now, template):
            continue  # a latched certificate stays as it is: eligibility is never withdrawn
        at, then = _eligible_at(doc, rules, template, held)
        known = certificates.get(template.templateId)
        if known is not None:
            # A fact that arrived late may show the criteria were met earlier: the document
            # follows the facts, the event already sent keeps its id.
            certificates[template.templateId] = known.model_copy(update={"eligibleAt": at})
            continue
        event = _announcement(doc, batch, template.templateId, at, then)
        certificates[template.templateId] = Certificate(
            templateId=template.templateId, eventId=event.id, eligibleAt=at
        )
        announcements.append(event)
    return sorted(certificates.values(), key=lambda c: c.templateId), announcements


def _fact_times(facts: LearnerFacts) -> list[datetime]:
    times = {f.time for f in facts.enrolments}
    for content in facts.contents:
        times.update(content.completed, content.progress)
    for assessment in facts.assessments:
        times.update(s.time for s in assessment.submissions)
    return sorted(times)


def _eligible_at(
    doc: EnrolmentDoc, rules: Rules, template: CertificateTemplate, held: str | None
) -> tuple[datetime, Derived]:
    """The earliest fact time at which the facts up to then met the template, and the values
    then: the business time of the eligibility, whatever order the facts arrived in. (A seat
    given later, by promotion, is the seat of a request opened earlier: the learner counts as
    seated from their request on.)"""
    times = _fact_times(doc.facts)
    # `meets` needs the completion, which never falls as time goes on: no time before the
    # first at which it reaches the template's percentage can meet it (a search, not a scan).
    wanted = template.criteria.completionPercent

    def completes(time: datetime) -> bool:
        pct = completion_upto(doc.facts, rules, time)
        return pct is not None and pct >= wanted

    for time in times[bisect_left(times, True, key=completes) :]:
        values = derive(doc.facts, rules, doc.userId, upto=time, held=held)
        if meets(values, template):
            return time, values
    final = derive(doc.facts, rules, doc.userId, held=held)
    return times[-1], final  # unreachable while `meets` holds for all facts


def latched_announcements(
    doc: EnrolmentDoc, batch: BatchDoc, rules: Rules
) -> list[CertificateEligible]:
    """The `certificate.eligible` events this document latched, built again: their ids as
    latched, the learner's values as of each `eligibleAt` (re-announcing them for a subscriber
    that lost its state; a latch needed a seat, so the learner counts as seated)."""
    events = []
    for certificate in doc.certificates:
        at = certificate.eligibleAt
        then = derive(doc.facts, rules, doc.userId, upto=at, held=ANY_SEAT)
        event = _announcement(doc, batch, certificate.templateId, at, then)
        events.append(event.model_copy(update={"id": certificate.eventId}))
    return events


def _announcement(
    doc: EnrolmentDoc, batch: BatchDoc, template_id: str, at: datetime, then: Derived
) -> CertificateEligible:
    return CertificateEligible(
        id=certificate_event_id(doc.batchId, doc.userId, template_id),
        time=format_time(at),
        data=CertificateEligibleData(
            batchId=doc.batchId,
            courseId=batch.courseId,
            userId=doc.userId,
            templateId=template_id,
            completionPercentage=then.completionPercentage or 0.0,
            scorePercentage=then.scorePercentage,
            completedAt=format_time(then.completedAt) if then.completedAt else None,
        ),
    )
