"""Realistic, seeded streams of contract events (JSON dicts), and what they must fold to.

Used by the end-to-end and crash tests, the fault suite and the benchmark. Streams are
"non-retracting" (no fact or rule change takes back an eligibility once reached), so the set
of certificate ids is the same in any order of arrival, and exact expectations hold.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from schemas.events import event_adapter
from schemas.topics import KEY_FIELD_OF_TYPE, TOPIC_OF_TYPE
from testkit.world import World

__all__ = ["Stream", "generate_stream", "key_of", "topic_of"]

Event = dict[str, Any]


def topic_of(event: Event, prefix: str = "") -> str:
    """The contract topic of an event dict."""
    return prefix + TOPIC_OF_TYPE[event["type"]]


def key_of(event: Event) -> bytes:
    """The contract key of an event dict."""
    return str(event["data"][KEY_FIELD_OF_TYPE[event["type"]]]).encode()


@dataclass
class Stream:
    """Rule events (courses, batches) and learner facts; publish rules in order, facts in any."""

    rules: list[Event] = field(default_factory=list)
    facts: list[Event] = field(default_factory=list)

    def all(self) -> list[Event]:
        """Everything, rules first."""
        return [*self.rules, *self.facts]

    def shuffled(self, seed: int, duplicates: float = 0.1) -> list[Event]:
        """Rules in order, facts shuffled among and after them, some facts twice."""
        rnd = random.Random(seed)
        facts = self.facts + rnd.sample(self.facts, int(len(self.facts) * duplicates))
        rnd.shuffle(facts)
        out = list(facts)
        for i, rule in enumerate(self.rules):  # rules keep their order but interleave
            out.insert(min(len(out), rnd.randint(0, len(out)) if i else 0), rule)
        rules_in = [e for e in out if e in self.rules]
        if rules_in != self.rules:  # re-impose rule order where insertion broke it
            it = iter(self.rules)
            out = [next(it) if e in self.rules else e for e in out]
        return out

    def expected(self) -> World:
        """The pure fold of the stream (rules in their order, then the facts)."""
        world = World()
        for raw in self.all():
            world.apply(event_adapter.validate_json(json.dumps(raw).encode()))
        return world


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def generate_stream(
    seed: int = 1,
    batches: int = 3,
    learners: int = 20,
    leaf_nodes: int = 4,
    assessments: int = 2,
    odd_ids: bool = True,
) -> Stream:
    """A course, `batches` batches with certificate templates, learners progressing at
    different rates (some late, some outside the window, some unenrolling after completing)."""
    rnd = random.Random(seed)
    counter = iter(range(10**9))
    start = date(2026, 1, 1)
    base = datetime(2026, 1, 1, tzinfo=UTC)

    def ev(typ: str, when: datetime, **data: Any) -> Event:
        return {
            "specversion": "1.0",
            "id": f"{typ}-{seed}-{next(counter)}",
            "source": "tests",
            "time": _iso(when),
            "type": typ,
            "data": data,
        }

    odd = " $.é" if odd_ids else ""
    course = f"course{odd}-{seed}"
    leaves = [f"content.{i}{odd}" for i in range(leaf_nodes)]
    quizzes = [f"quiz${i}" for i in range(assessments)]
    stream = Stream()
    stream.rules.append(
        ev("course.published", base, courseId=course, leafNodes=leaves, assessments=quizzes)
    )
    for b in range(batches):
        batch_id = f"batch{odd}.{seed}.{b}"
        end = start + timedelta(days=60)
        stream.rules.append(
            ev(
                "batch.created",
                base,
                batchId=batch_id,
                courseId=course,
                name=f"Batch {b}",
                enrollmentType="open",
                startDate=start.isoformat(),
                endDate=end.isoformat(),
                enrollmentEndDate=(start + timedelta(days=30)).isoformat(),
                mentors=["mentor-1"],
                certificateTemplates=[
                    {"templateId": "completion", "criteria": {"completionPercent": 100}},
                    {
                        "templateId": f"merit{odd}",
                        "criteria": {"completionPercent": 100, "minScorePercent": 70},
                    },
                ],
            )
        )
        if b == 0:  # an extension: late facts of batch 0 count once it arrives
            stream.rules.append(
                ev(
                    "batch.updated",
                    base,
                    batchId=batch_id,
                    endDate=(end + timedelta(days=30)).isoformat(),
                )
            )
        for u in range(learners):
            stream.facts += _learner(rnd, ev, batch_id, f"user{odd}{u}", leaves, quizzes, base)
    return stream


def _learner(
    rnd: random.Random,
    ev: Any,
    batch_id: str,
    user: str,
    leaves: list[str],
    quizzes: list[str],
    base: datetime,
) -> list[Event]:
    facts: list[Event] = []

    def at(day: float) -> datetime:
        return base + timedelta(days=day, seconds=rnd.randint(0, 86_399))

    enrol_day = rnd.choice([0.0, 1.0, 5.0, 20.0, 35.0])  # 35: after the enrolment deadline
    facts.append(ev("enrolment.created", at(enrol_day), batchId=batch_id, userId=user))
    rate = rnd.random()
    last = enrol_day
    for leaf in leaves:
        if rnd.random() > rate + 0.2:
            continue
        day = last + rnd.uniform(0.5, 12)  # some beyond day 60: late, counted after the extension
        last = day
        facts.append(
            ev(
                "content.progress",
                at(day - 0.3),
                batchId=batch_id,
                userId=user,
                contentId=leaf,
                progress=rnd.choice([10, 50, 90]),
            )
        )
        if rnd.random() < 0.5:
            facts.append(
                ev("content.completed", at(day), batchId=batch_id, userId=user, contentId=leaf)
            )
        else:
            facts.append(
                ev(
                    "content.progress",
                    at(day),
                    batchId=batch_id,
                    userId=user,
                    contentId=leaf,
                    progress=100,
                )
            )
    for quiz in quizzes:
        for attempt in range(rnd.randint(0, 2)):
            score = rnd.randint(3, 10)
            facts.append(
                ev(
                    "assessment.submitted",
                    at(last + rnd.uniform(0, 3)),
                    batchId=batch_id,
                    userId=user,
                    assessmentId=quiz,
                    attemptId=f"a{attempt}",
                    score=score,
                    maxScore=10,
                )
            )
    if rnd.random() < 0.15:  # unenrols after everything: refused if completed, else counted
        facts.append(ev("enrolment.cancelled", at(last + 200), batchId=batch_id, userId=user))
    facts.append(
        ev(
            "content.progress",
            at(last + 0.1),
            batchId=batch_id,
            userId=user,
            contentId="not-a-leaf",
            progress=30,
        )
    )
    return facts
