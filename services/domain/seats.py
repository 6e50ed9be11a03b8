"""Seats (contract 7): who of a batch's requests holds one, who waits, who is refused, and why.

Pure functions of the batch's rules and of every learner's request, so a seat freed (a request
cancelled, a capacity raised) goes to the head of the waitlist by evaluating the same rule
again: nothing is "promoted", the roster simply reads differently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from schemas.documents import EnrolmentFact, EnrolmentRequest, EnrolmentStatus, LearnerFacts
from services.domain.derive import ANY_SEAT, Rules, counted_creation

__all__ = ["NO_SEAT", "Refusal", "Seat", "assign_seats", "refusal_of"]


@dataclass(frozen=True, slots=True)
class Seat:
    """One learner's place in the roster: `held` is the opening event id of the seat held
    (`ANY_SEAT` where seats are unlimited, None where none is held)."""

    status: EnrolmentStatus
    held: str | None = None
    position: int | None = None  # 1-based place on the waitlist
    reason: str | None = None  # refused: batch-full


NO_SEAT = Seat("not-enrolled")


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a learner without a request is refused, and the `enrolment.created` refused."""

    reason: str
    event_id: str


def assign_seats(rules: Rules, requests: Mapping[str, EnrolmentRequest | None]) -> dict[str, Seat]:
    """The seat of every learner (by userId) of one batch, from all of its requests.

    Requests are ordered by request time, ties by the smaller opening event id; the first
    `capacity` hold a seat, all of them where capacity is unlimited; the others wait in that
    order where waitlisting is allowed, else are refused (`batch-full`)."""
    seats = {user: NO_SEAT for user, request in requests.items() if request is None}
    open_requests = sorted(
        ((r.time, r.eventId, user) for user, r in requests.items() if r is not None)
    )
    for place, (_, opening, user) in enumerate(open_requests):
        if rules.capacity is None:
            seats[user] = Seat("enrolled", ANY_SEAT)
        elif place < rules.capacity:
            seats[user] = Seat("enrolled", opening)
        elif rules.waitlisting:
            seats[user] = Seat("waitlisted", position=place - rules.capacity + 1)
        else:
            seats[user] = Seat("refused", reason="batch-full")
    return seats


def refusal_of(facts: LearnerFacts, rules: Rules, user_id: str) -> Refusal | None:
    """For a learner without a request: refused when their latest enrolment fact by time is an
    `enrolment.created` that is not counted (a self-enrolment in an invite-only batch, or one
    after the deadline); None otherwise (never enrolled, or left)."""
    if not facts.enrolments or rules.cancelled:
        return None
    latest: EnrolmentFact = max(facts.enrolments, key=lambda f: (f.time, f.id))
    if latest.kind != "created" or counted_creation(latest, rules, user_id):
        return None
    if rules.invite_only and latest.enrolledBy == user_id:
        return Refusal("invite-only", latest.id)
    return Refusal("enrolment-closed", latest.id)
