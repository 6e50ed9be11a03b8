"""The fold of a replay into an empty shadow database: learner facts folded in memory, a
group of batches at a time, each document built once from all of its facts.

The live pipeline folds poll by poll against what is stored, because other writers may be
at work; a shadow has no other writer, so the same domain functions (`add_facts`, then
`settle` with the batch's rules) run once per document over every fact of the replay. A batch
is always folded whole: one seat may depend on every request of its roster.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from schemas.documents import EnrolmentDoc, enrolment_key
from schemas.events import LearnerEvent
from schemas.outbound import CertificateEligible
from services.domain import add_facts, settle
from services.rules_snapshot import RulesSnapshot

__all__ = ["ShadowFold", "fold_learners"]


@dataclass
class ShadowFold:
    """The documents of a group of batches, and what the live service would have announced."""

    documents: list[EnrolmentDoc] = field(default_factory=list)
    certificates: int = 0
    statuses: int = 0


def fold_learners(
    events: Iterable[LearnerEvent],
    rules: RulesSnapshot,
    now: datetime,
    keep_outboxes: bool = False,
) -> ShadowFold:
    """Every enrolment document these facts make, settled against `rules` (which must hold
    every batch the facts name, when it exists). Announcements are counted; a shadow
    announces nothing, and its outboxes are left empty, unless `keep_outboxes` (a shadow that
    goes live: the service publishes what each document latched)."""
    facts: dict[str, list[LearnerEvent]] = defaultdict(list)
    for event in events:
        facts[enrolment_key(event.data.batchId, event.data.userId)].append(event)
    by_batch: dict[str, list[EnrolmentDoc]] = defaultdict(list)
    for evs in facts.values():
        first = evs[0].data
        doc = add_facts(EnrolmentDoc(batchId=first.batchId, userId=first.userId), evs)
        by_batch[doc.batchId].append(doc)
    fold = ShadowFold()
    for batch_id, docs in by_batch.items():
        for doc in settle(docs, *rules.of(batch_id), now):
            certificates = sum(isinstance(e, CertificateEligible) for e in doc.outbox)
            fold.certificates += certificates
            fold.statuses += len(doc.outbox) - certificates
            if not keep_outboxes:
                doc = doc.model_copy(update={"outbox": [], "outboxSince": None})
            fold.documents.append(doc)
    return fold
