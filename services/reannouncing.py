"""Re-announcing: publish again the `certificate.eligible` events a batch already latched,
with their same ids, for a subscriber that lost its state (Sunbird's `reIssue=true`).
Nothing is written: the documents, their latches and their outboxes stay as they are."""

from __future__ import annotations

from schemas.documents import enrolment_key
from schemas.outbound import CertificateEligible
from services.domain import latched_announcements, rules_of
from services.ports import EventPublisher, Stores

__all__ = ["UnknownBatch", "reannounce"]

_CHUNK = 500  # events per publish call


class UnknownBatch(LookupError):
    """The batch has no document (never created, or under another prefix or database)."""


async def reannounce(
    stores: Stores,
    publisher: EventPublisher,
    batch_id: str,
    user_id: str | None = None,
    *,
    dry_run: bool = False,
) -> list[CertificateEligible]:
    """The latched events of the batch (of one learner, with `user_id`), published unless
    `dry_run`; returned in learner order."""
    batch = (await stores.documents.get_batches([batch_id])).get(batch_id)
    if batch is None:
        raise UnknownBatch(batch_id)
    course = (await stores.documents.get_courses([batch.courseId])).get(batch.courseId)
    rules = rules_of(batch, course)
    if user_id is not None:
        docs = list(
            (await stores.documents.get_enrolments([enrolment_key(batch_id, user_id)])).values()
        )
    else:
        docs = await stores.documents.enrolments_of_batch(batch_id)
    if rules is None:
        return []  # nothing can have latched without the course's rules
    docs.sort(key=lambda d: d.userId)
    events = [e for d in docs for e in latched_announcements(d, batch, rules)]
    if not dry_run:
        for start in range(0, len(events), _CHUNK):
            await publisher.announce(events[start : start + _CHUNK])
    return events
