"""The benchmark's input: realistic contract events from `testkit.streams`, encoded once.

Learners come from `generate_stream` (several courses, several batches each, learners at
different rates, odd identifiers). Facts are published in a *windowed* shuffle: every window
of `window` facts (about 200 learners) is shuffled and gets 10% duplicates, so facts arrive
out of order and twice, the way a live platform emits them, while a learner's facts stay
close in time (which lets a prefix of the stream cover whole learners, and makes latency
meaningful). Rules (course and batch events, one `batch.updated` per course) go first.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

from schemas.documents import enrolment_key
from testkit.streams import Stream, generate_stream, key_of, topic_of

__all__ = ["Message", "Workload", "build_workload"]


Event = dict[str, Any]
DUPLICATES = 0.10
BATCHES_PER_COURSE = 5
LEARNERS_PER_BATCH = 400


@dataclass(frozen=True, slots=True)
class Message:
    """One record to publish: topic suffix (without prefix), key, value, learner key or None."""

    topic: str
    key: bytes
    value: bytes
    learner: str | None


@dataclass
class Workload:
    """Rules then facts, encoded; `stream` (unique facts) is kept only when asked for."""

    rules: list[Message] = field(default_factory=list)
    facts: list[Message] = field(default_factory=list)
    stream: Stream | None = None
    learners: int = 0

    @property
    def records(self) -> int:
        return len(self.rules) + len(self.facts)


def _encode(event: Event) -> Message:
    data = event["data"]
    learner = enrolment_key(data["batchId"], data["userId"]) if "userId" in data else None
    value = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
    return Message(topic_of(event), key_of(event), value, learner)


def build_workload(
    facts: int, seed: int = 1, keep_stream: bool = False, window: int = 2000
) -> Workload:
    """About `facts` learner-fact records (duplicates included), plus the rules they need."""
    unique_target = max(1, round(facts / (1 + DUPLICATES)))
    rnd = random.Random(seed)
    work = Workload()
    kept = Stream()
    pending: list[Event] = []
    unique = 0
    course_seed = seed * 1000
    while unique < unique_target:
        course_seed += 1
        stream = generate_stream(
            seed=course_seed, batches=BATCHES_PER_COURSE, learners=LEARNERS_PER_BATCH
        )
        take = stream.facts[: unique_target - unique]
        unique += len(take)
        work.rules += [_encode(e) for e in stream.rules]
        work.learners += len({(e["data"]["batchId"], e["data"]["userId"]) for e in take})
        if keep_stream:
            kept.rules += stream.rules
            kept.facts += take
        pending += take
        while len(pending) >= window:
            work.facts += _window(rnd, pending[:window])
            del pending[:window]
    if pending:
        work.facts += _window(rnd, pending)
    work.stream = kept if keep_stream else None
    return work


def _window(rnd: random.Random, events: list[Event]) -> list[Message]:
    chosen = events + rnd.sample(events, round(len(events) * DUPLICATES))
    rnd.shuffle(chosen)
    return [_encode(e) for e in chosen]
