"""A batch's counts (contract 3 and 7), from its learners' documents."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from schemas.documents import EnrolmentDoc

__all__ = ["COUNT_FIELDS", "count_learners", "counted_fields"]

COUNT_FIELDS = ("enrolledCount", "completedCount", "certifiedCount", "waitlistedCount")


def count_learners(learners: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """`enrolledCount` (holding a seat), `completedCount` (of those, completed),
    `certifiedCount` (with any certificate, latched whatever happened since) and
    `waitlistedCount`, from the stored fields of every learner of one batch."""
    enrolled = completed = certified = waitlisted = 0
    for learner in learners:
        active = learner.get("enrolled") is True
        enrolled += active
        completed += active and learner.get("progressStatus") == 2
        certified += bool(learner.get("certificates"))
        waitlisted += learner.get("enrolmentStatus") == "waitlisted"
    return dict(zip(COUNT_FIELDS, (enrolled, completed, certified, waitlisted), strict=True))


def counted_fields(doc: EnrolmentDoc) -> dict[str, Any]:
    """The fields of a document that `count_learners` reads."""
    return {
        "enrolled": doc.enrolled,
        "progressStatus": doc.progressStatus,
        "certificates": doc.certificates,
        "enrolmentStatus": doc.enrolmentStatus,
    }
