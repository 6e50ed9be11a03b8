"""The pure fold: facts in, documents and decisions out. No I/O, no clock, no logging
(the service's clock comes in as a value where a decision needs it)."""

from services.domain.derive import ANY_SEAT, Derived, Rules, derive, rules_of
from services.domain.eligibility import latch_certificates, latched_announcements, meets
from services.domain.facts import add_fact
from services.domain.lifecycle import (
    auto_cancel_due,
    auto_cancellation,
    batch_status,
    cancellation_deadline,
)
from services.domain.roster import add_facts, needs_whole_roster, settle
from services.domain.rules import (
    BatchChange,
    BatchFold,
    Redriven,
    Rejection,
    apply_batch_event,
    apply_batch_events,
    apply_course_event,
    rules_differ,
)
from services.domain.seats import NO_SEAT, Refusal, Seat, assign_seats, refusal_of

__all__ = [
    "ANY_SEAT",
    "NO_SEAT",
    "BatchChange",
    "BatchFold",
    "Derived",
    "Redriven",
    "Refusal",
    "Rejection",
    "Rules",
    "Seat",
    "add_fact",
    "add_facts",
    "apply_batch_event",
    "apply_batch_events",
    "apply_course_event",
    "assign_seats",
    "auto_cancel_due",
    "auto_cancellation",
    "batch_status",
    "cancellation_deadline",
    "derive",
    "latch_certificates",
    "latched_announcements",
    "meets",
    "needs_whole_roster",
    "refusal_of",
    "rules_differ",
    "rules_of",
    "settle",
]
