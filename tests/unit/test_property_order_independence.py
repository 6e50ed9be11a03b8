"""Order independence of the fold (contract 2-4), checked on generated streams.

A stream holds batch events (applied in the order they were published; any of them may be
read again later, as after a replay, a topic recreation or a publisher's resend) and learner
and course events (which may arrive in any order, late, twice). The properties:

Batches may have capacities, waitlists and invitations (contract 7): one learner's seat then
depends on every other learner's request.

(a) any arrival order of the learner and course events, with duplicates, gives the same
    enrolment documents apart from the latches (`certificates`, `announcedStatuses`) and
    `outbox`, the same batches and counts, and the same current enrolment statuses;
(b) for streams without retracting facts or rule changes (no unenrolment, no seat that a late
    request can take away) the certificates, their ids and the counts are the same too, and
    every latched certificate is still deserved at the end;
(c) whatever the stream, every learner eligible in the final state holds the certificate,
    every learner's current status is announced, and each latched announcement (certificate
    or status) was put in the outbox exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import given, note, settings
from hypothesis import strategies as st

from schemas.events import Event
from schemas.outbound import certificate_event_id
from schemas.types import format_time
from services.domain import assign_seats, derive, meets, rules_of
from testkit.expect import current_status_ids
from testkit.world import World
from tests.unit.builders import batch_data, message, parse

BASE = date(2026, 3, 1)
COURSES = ("c0", "c1")
LEAVES = ("l0", "l1", "l2")
OTHER_CONTENTS = ("m0",)  # in no course's leafNodes
ASSESSMENTS = ("q0", "q1", "q2")
TEMPLATE_IDS = ("t0", "t1", "t2", "t3")
COMPLETION_LEVELS = (0, 50, 100)
SCORE_LEVELS = (0, 40, 80)  # a missing minScorePercent (None) is looser than any of them

Raw = tuple[str, dict[str, Any], str]  # an event before parsing: type, data, time

# -- What a stream is ------------------------------------------------------------------------


@dataclass
class Stream:
    """Batch events in publication order, and the learner and course events."""

    batch_items: list[Event]
    others: list[Event]
    retracting: bool

    def __repr__(self) -> str:
        lines = [f"Stream(retracting={self.retracting})", "  batch events (in order):"]
        lines += [f"    {describe(e)}" for e in self.batch_items]
        lines.append("  learner and course events:")
        lines += [f"    {describe(e)}" for e in self.others]
        return "\n".join(lines)


def describe(event: Event) -> str:
    data = {k: v for k, v in event.data.model_dump(mode="json").items() if v is not None}
    return f"{event.type} {event.id} {format_time(event.time)} {data}"


def day(offset: int) -> str:
    return (BASE + timedelta(days=offset)).isoformat()


# -- Batch events ---------------------------------------------------------------------------


@dataclass
class BatchState:
    """What the generator knows of a batch, to make updates that relax (or not)."""

    batch_id: str
    course_id: str
    start: int
    end: int | None
    enrol_end: int | None
    templates: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    capacity: int | None = None
    waitlisting: bool = False
    invite_only: bool = False

    def wire_templates(self) -> list[dict[str, Any]]:
        return [
            {"templateId": t, "criteria": {"completionPercent": cp, "minScorePercent": ms}}
            for t, (cp, ms) in sorted(self.templates.items())
        ]

    def created(self) -> dict[str, Any]:
        return batch_data(
            self.batch_id,
            self.course_id,
            start=day(self.start),
            end=day(self.end) if self.end is not None else None,
            enrol_end=day(self.enrol_end) if self.enrol_end is not None else None,
            templates=self.wire_templates(),
            enrollment_type="invite-only" if self.invite_only else "open",
            maximumCapacity=self.capacity,
            allowWaitlisting=self.waitlisting,
        )


criteria = st.tuples(st.sampled_from(COMPLETION_LEVELS), st.sampled_from((None, *SCORE_LEVELS)))


@st.composite
def batch_state(draw: st.DrawFn, batch_id: str, seats: bool = True) -> BatchState:
    """A batch's fields; `seats=False`: no capacity a late request could take a seat from."""
    start = draw(st.integers(0, 3))
    end = draw(st.one_of(st.none(), st.integers(start + 2, start + 8)))
    top = end if end is not None else start + 6
    enrol_end = draw(st.one_of(st.none(), st.integers(start, top)))
    ids = draw(st.lists(st.sampled_from(TEMPLATE_IDS), min_size=1, max_size=2, unique=True))
    return BatchState(
        batch_id,
        draw(st.sampled_from(COURSES)),
        start,
        end,
        enrol_end,
        {t: draw(criteria) for t in ids},
        capacity=draw(st.sampled_from([None, None, 1, 2, 3])) if seats else None,
        waitlisting=draw(st.booleans()),
        invite_only=draw(st.sampled_from([False, False, True])),
    )


def _looser(draw: st.DrawFn, cp: int, ms: int | None) -> tuple[int, int | None]:
    new_cp = draw(st.sampled_from([c for c in COMPLETION_LEVELS if c <= cp]))
    if ms is None:
        return new_cp, None
    return new_cp, draw(st.sampled_from([None, *(s for s in SCORE_LEVELS if s <= ms)]))


def _stricter(draw: st.DrawFn, cp: int, ms: int | None) -> tuple[int, int | None]:
    new_cp = draw(st.sampled_from([c for c in COMPLETION_LEVELS if c >= cp]))
    floor = -1 if ms is None else ms
    return new_cp, draw(st.sampled_from([s for s in SCORE_LEVELS if s >= floor] or [ms]))


RELAXING = ("extend_end", "extend_start", "extend_enrol_end", "add_template", "relax", "rename")
RETRACTING = (
    "stricter",
    "remove_template",
    "shrink",
    "bad_dates",
    "change_course",
    "recreate",
    "capacity",
    "waitlisting",
    "invitations",
)


def _update(draw: st.DrawFn, state: BatchState, kind: str) -> tuple[str, dict[str, Any]]:
    """One batch event (type, data) of this kind; `state` follows what the fold will do."""
    bid = state.batch_id
    if kind == "extend_end" and state.end is not None:
        state.end += draw(st.integers(1, 5))
        return "batch.updated", {"batchId": bid, "endDate": day(state.end)}
    if kind == "extend_start":
        state.start -= draw(st.integers(1, 3))
        return "batch.updated", {"batchId": bid, "startDate": day(state.start)}
    if kind == "extend_enrol_end" and state.enrol_end is not None:
        top = state.end if state.end is not None else state.enrol_end + 5
        state.enrol_end = draw(st.one_of(st.none(), st.integers(state.enrol_end, top)))
        wire = day(state.enrol_end) if state.enrol_end is not None else None
        return "batch.updated", {"batchId": bid, "enrollmentEndDate": wire}
    if kind == "add_template" and len(state.templates) < len(TEMPLATE_IDS):
        new = draw(st.sampled_from([t for t in TEMPLATE_IDS if t not in state.templates]))
        state.templates[new] = draw(criteria)
        return "batch.updated", {"batchId": bid, "certificateTemplates": state.wire_templates()}
    if kind in ("relax", "stricter") and state.templates:
        tid = draw(st.sampled_from(sorted(state.templates)))
        change = _looser if kind == "relax" else _stricter
        state.templates[tid] = change(draw, *state.templates[tid])
        return "batch.updated", {"batchId": bid, "certificateTemplates": state.wire_templates()}
    if kind == "remove_template" and state.templates:
        del state.templates[draw(st.sampled_from(sorted(state.templates)))]
        return "batch.updated", {"batchId": bid, "certificateTemplates": state.wire_templates()}
    if kind == "shrink":
        floor = max(state.start, state.enrol_end or state.start)
        state.end = draw(st.integers(floor, floor + 2))
        return "batch.updated", {"batchId": bid, "endDate": day(state.end)}
    if kind == "bad_dates":  # rejected: the batch stays as it is
        return "batch.updated", {"batchId": bid, "endDate": day(state.start - 1)}
    if kind == "change_course":  # rejected
        other = next(c for c in COURSES if c != state.course_id)
        return "batch.updated", {"batchId": bid, "courseId": other, "name": "changed"}
    if kind == "recreate":
        fresh = draw(batch_state(bid))
        state.__dict__.update(fresh.__dict__)
        return "batch.created", state.created()
    if kind == "capacity":  # raised, lowered or lifted: seats move
        state.capacity = draw(st.sampled_from([None, 1, 2, 3, 4]))
        return "batch.updated", {"batchId": bid, "maximumCapacity": state.capacity}
    if kind == "waitlisting":
        state.waitlisting = not state.waitlisting
        return "batch.updated", {"batchId": bid, "allowWaitlisting": state.waitlisting}
    if kind == "invitations":
        state.invite_only = not state.invite_only
        kind_of = "invite-only" if state.invite_only else "open"
        return "batch.updated", {"batchId": bid, "enrollmentType": kind_of}
    return "batch.updated", {"batchId": bid, "name": draw(st.sampled_from(["x", "y"]))}


@st.composite
def batch_events(draw: st.DrawFn, batch_id: str, retracting: bool) -> list[tuple[str, dict]]:
    """The events of one batch, in the order they are applied."""
    events: list[tuple[str, dict[str, Any]]] = []
    if retracting and draw(st.booleans()):  # bad input: the batch does not exist yet
        events.append(("batch.cancelled", {"batchId": batch_id}))
    if not draw(st.sampled_from([True, True, True, False])):
        return events
    state = draw(batch_state(batch_id, seats=retracting))
    events.append(("batch.created", state.created()))
    kinds = RELAXING + RETRACTING if retracting else RELAXING
    for kind in draw(st.lists(st.sampled_from(kinds), max_size=3)):
        events.append(_update(draw, state, kind))
    if retracting and draw(st.booleans()):
        events.append(("batch.cancelled", {"batchId": batch_id, "reason": "closed"}))
    return events


# -- Learner and course events --------------------------------------------------------------


times = st.builds(
    lambda d, h, m, ms: (
        (
            datetime.combine(BASE + timedelta(days=d), datetime.min.time(), UTC)
            + timedelta(hours=h, minutes=m, milliseconds=ms)
        ).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        + "Z"
    ),
    st.integers(-1, 9),
    st.sampled_from([0, 12, 23]),
    st.sampled_from([0, 59]),
    st.sampled_from([0, 999]),
)


@st.composite
def course_events(draw: st.DrawFn, retracting: bool) -> list[Raw]:
    """0-3 publishes per course; exactly one (or none) without retractions."""
    out: list[Raw] = []
    for course_id in COURSES:
        count = draw(st.integers(0, 3) if retracting else st.sampled_from([1, 1, 1, 0]))
        for _ in range(count):
            leaves = draw(st.lists(st.sampled_from(LEAVES), min_size=1, max_size=4))
            # Without assessments the score is the mean over those attempted, which a new
            # attempt can lower: that is a retracting fact, kept out of the relaxing streams.
            least = 0 if retracting else 1
            quizzes = draw(st.lists(st.sampled_from(ASSESSMENTS), min_size=least, max_size=3))
            data = {"courseId": course_id, "leafNodes": leaves, "assessments": quizzes}
            out.append(("course.published", data, day(draw(st.integers(-6, -4))) + "T00:00:00Z"))
    return out


def _learner_data(draw: st.DrawFn, kind: str, batch_id: str, user_id: str) -> dict[str, Any]:
    data: dict[str, Any] = {"batchId": batch_id, "userId": user_id}
    if kind == "enrolment.created" and draw(st.booleans()):
        data["courseId"] = draw(st.sampled_from(COURSES))
    if kind == "enrolment.created":  # self-enrolled, enrolled by a mentor, or unsaid
        by = draw(st.sampled_from([None, user_id, "mentor-1"]))
        if by is not None:
            data["enrolledBy"] = by
    if kind in ("content.progress", "content.completed"):
        data["contentId"] = draw(st.sampled_from(LEAVES + OTHER_CONTENTS))
    if kind == "content.progress":
        data["progress"] = draw(st.sampled_from([0, 40, 100]))
    if kind == "assessment.submitted":
        max_score = draw(st.sampled_from([10, 100]))
        data |= {
            "assessmentId": draw(st.sampled_from((*ASSESSMENTS, "q-extra"))),
            "attemptId": draw(st.sampled_from(["a1", "a2"])),
            "score": max_score * draw(st.sampled_from([0, 2, 5, 8, 10])) // 10,
            "maxScore": max_score,
        }
    return data


@st.composite
def journey(draw: st.DrawFn, batch_ids: list[str], users: list[str], retracting: bool) -> list[Raw]:
    """One learner in one batch, likely to complete it: the events that make certificates."""
    batch_id, user_id = draw(st.sampled_from(batch_ids)), draw(st.sampled_from(users))
    out: list[Raw] = []
    if draw(st.sampled_from([True, True, True, False])):
        kind = "enrolment.created"
        out.append((kind, _learner_data(draw, kind, batch_id, user_id), draw(times)))
    for leaf in LEAVES:
        if draw(st.sampled_from([True, True, True, False])):
            data = {"batchId": batch_id, "userId": user_id, "contentId": leaf}
            if draw(st.booleans()):
                out.append(("content.completed", data, draw(times)))
            else:
                out.append(("content.progress", data | {"progress": 100}, draw(times)))
    for quiz in draw(st.lists(st.sampled_from(ASSESSMENTS), max_size=3)):
        data = _learner_data(draw, "assessment.submitted", batch_id, user_id)
        out.append(("assessment.submitted", data | {"assessmentId": quiz}, draw(times)))
    if retracting and draw(st.sampled_from([True, False, False])):
        kind = "enrolment.cancelled"
        out.append((kind, _learner_data(draw, kind, batch_id, user_id), draw(times)))
    return out


@st.composite
def learner_event(draw: st.DrawFn, batch_ids: list[str], users: list[str], retracting: bool) -> Raw:
    """Any one learner fact."""
    kinds = ["enrolment.created", "content.progress", "content.completed", "assessment.submitted"]
    if retracting:
        kinds.append("enrolment.cancelled")
    kind = draw(st.sampled_from(kinds))
    data = _learner_data(draw, kind, draw(st.sampled_from(batch_ids)), draw(st.sampled_from(users)))
    return kind, data, draw(times)


@st.composite
def streams(draw: st.DrawFn, retracting: bool) -> Stream:
    batch_ids = [f"b{i}" for i in range(draw(st.integers(2, 3)))]
    users = [f"u{i}" for i in range(draw(st.integers(3, 6)))]
    per_batch = [draw(batch_events(b, retracting)) for b in batch_ids]
    # Batches interleave on the partition; each keeps its own order.
    slots = [i for i, events in enumerate(per_batch) for _ in events]
    merged = [per_batch[i].pop(0) for i in draw(st.permutations(slots))]
    batch_items = [
        parse(message(t, d, id=f"bev-{n}", time=day(-10) + "T00:00:00Z"))
        for n, (t, d) in enumerate(merged)
    ]
    raw = draw(course_events(retracting))
    targets = [*batch_ids, "b-never"]
    for events in draw(st.lists(journey(batch_ids, users, retracting), max_size=5)):
        raw += events
    raw += draw(st.lists(learner_event(targets, users, retracting), max_size=10))
    others = [
        parse(message(t, d, id=f"ev-{n:03d}", time=time)) for n, (t, d, time) in enumerate(raw)
    ]
    return Stream(batch_items, others, retracting)


# -- Arrival orders -------------------------------------------------------------------------


def arrival(data: st.DataObject, stream: Stream, label: str) -> list[Event]:
    """A random arrival order: learner and course events shuffled with some repeated, batch
    events in publication order (some read again after they were applied, at any later
    point: nothing tells where they were read from), all interleaved."""
    others = list(data.draw(st.permutations(stream.others), label=f"{label}: shuffle"))
    if others:
        repeats = data.draw(st.lists(st.integers(0, len(others) - 1), max_size=4), label="dups")
        for index in repeats:
            others.insert(data.draw(st.integers(0, len(others))), others[index])
    flags = [True] * len(stream.batch_items) + [False] * len(others)
    flags = list(data.draw(st.permutations(flags), label=f"{label}: interleave"))
    batch_queue, other_queue = list(stream.batch_items), iter(others)
    applied: list[Event] = []
    order: list[Event] = []
    for is_batch in flags:
        if is_batch:
            applied.append(batch_queue.pop(0))
            order.append(applied[-1])
        else:
            order.append(next(other_queue))
        if applied and data.draw(st.integers(0, 9), label="replay?") == 0:
            order.append(data.draw(st.sampled_from(applied), label="replayed"))
    return order


NOW = datetime(2026, 3, 6, 12, tzinfo=UTC)  # the service's clock: batch status, status times
LATCHES = {"outbox", "outboxSince", "announcedStatuses"}


def folded(order: list[Event]) -> World:
    return World(now=NOW).apply_all(order)


def without_certificates(world: World) -> dict[str, dict[str, Any]]:
    skip = LATCHES | {"certificates"}
    return {key: d.model_dump(exclude=skip) for key, d in world.enrolments.items()}


def with_certificates(world: World) -> dict[str, dict[str, Any]]:
    return {key: d.model_dump(exclude=LATCHES) for key, d in world.enrolments.items()}


def deserved(world: World) -> set[str]:
    """Certificate ids of the learners eligible in the final state, computed afresh (seats
    given from every learner's request, as contract 7 says)."""
    ids = set()
    for batch in world.batches.values():
        rules = rules_of(batch, world.courses.get(batch.courseId))
        assert rules is not None
        docs = [d for d in world.enrolments.values() if d.batchId == batch.batchId]
        values = {d.userId: derive(d.facts, rules, d.userId) for d in docs}
        seats = assign_seats(rules, {user: v.request for user, v in values.items()})
        for user, value in values.items():
            seated = replace(value, enrolled=seats[user].status == "enrolled")
            for template in batch.certificateTemplates:
                if meets(seated, template):
                    ids.add(certificate_event_id(batch.batchId, user, template.templateId))
    return ids


def counts(world: World) -> dict[str, tuple[int, int, int, int]]:
    return {
        b.batchId: (b.enrolledCount, b.completedCount, b.certifiedCount, b.waitlistedCount)
        for b in world.counted().values()
    }


def show(order: list[Event]) -> str:
    return "\n".join(f"  {describe(e)}" for e in order)


PROPERTY = settings(max_examples=200, deadline=None)


@PROPERTY
@given(stream=streams(retracting=True), data=st.data())
def test_documents_do_not_depend_on_arrival_order(stream: Stream, data: st.DataObject) -> None:
    first, second = arrival(data, stream, "first"), arrival(data, stream, "second")
    note(f"first order:\n{show(first)}\nsecond order:\n{show(second)}")
    one, two = folded(first), folded(second)
    assert without_certificates(one) == without_certificates(two)
    assert one.batches == two.batches
    assert one.courses == two.courses
    same = {b: (c[0], c[1], c[3]) for b, c in counts(one).items()}
    assert same == {b: (c[0], c[1], c[3]) for b, c in counts(two).items()}
    assert current_status_ids(one.enrolments.values()) == current_status_ids(
        two.enrolments.values()
    )


@PROPERTY
@given(stream=streams(retracting=False), data=st.data())
def test_certificates_do_not_depend_on_arrival_order_without_retractions(
    stream: Stream, data: st.DataObject
) -> None:
    first, second = arrival(data, stream, "first"), arrival(data, stream, "second")
    note(f"first order:\n{show(first)}\nsecond order:\n{show(second)}")
    one, two = folded(first), folded(second)
    assert with_certificates(one) == with_certificates(two)
    assert one.certificate_ids() == two.certificate_ids()
    assert counts(one) == counts(two)
    assert one.batches == two.batches
    # Nothing was latched that the final facts and rules do not justify.
    assert one.certificate_ids() == deserved(one)
    assert current_status_ids(one.enrolments.values()) <= one.status_event_ids()


@PROPERTY
@given(stream=streams(retracting=True), data=st.data())
def test_eligible_learners_hold_their_certificates_announced_once(
    stream: Stream, data: st.DataObject
) -> None:
    order = arrival(data, stream, "order")
    note(f"order:\n{show(order)}")
    world = folded(order)
    assert deserved(world) <= world.certificate_ids()
    assert current_status_ids(world.enrolments.values()) <= world.status_event_ids()
    for d in world.enrolments.values():
        latched = [c.eventId for c in d.certificates] + [a.eventId for a in d.announcedStatuses]
        assert sorted(e.id for e in d.outbox) == sorted(latched)
