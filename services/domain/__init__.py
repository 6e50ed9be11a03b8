"""The pure fold: facts in, documents and decisions out. No I/O, no clock, no logging."""

from services.domain.derive import Derived, Rules, derive, rules_of
from services.domain.eligibility import fold_learner, meets, refresh
from services.domain.facts import add_fact
from services.domain.rules import (
    BatchChange,
    BatchFold,
    Rejection,
    apply_batch_event,
    apply_batch_events,
    apply_course_event,
    rules_differ,
)

__all__ = [
    "BatchChange",
    "BatchFold",
    "Derived",
    "Rejection",
    "Rules",
    "add_fact",
    "apply_batch_event",
    "apply_batch_events",
    "apply_course_event",
    "derive",
    "fold_learner",
    "meets",
    "refresh",
    "rules_differ",
    "rules_of",
]
