"""A consumed record becomes an event, or the reason it is dead-lettered (contract 5)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from consumers.parsing import parse_record
from schemas.topics import Topics

TOPICS = Topics("p.")
FACT = {
    "specversion": "1.0",
    "id": "e-1",
    "type": "content.completed",
    "source": "test",
    "time": "2026-06-01T10:00:00Z",
    "data": {"batchId": "b", "userId": "u", "contentId": "c"},
}


def _record(value: bytes | None, topic: str = "p.lms.content-completion.v1") -> SimpleNamespace:
    return SimpleNamespace(
        topic=topic, partition=0, offset=7, key=b"u", value=value, headers=[], timestamp=1
    )


def test_a_valid_fact_on_its_topic_is_an_event() -> None:
    received = parse_record(_record(json.dumps(FACT).encode()), TOPICS, 1 << 20)
    assert received.reason is None and received.event is not None
    assert received.event.id == "e-1"


@pytest.mark.parametrize(
    ("value", "topic", "code"),
    [
        (None, "p.lms.content-completion.v1", "empty"),  # a tombstone
        (b"", "p.lms.content-completion.v1", "empty"),  # a value of no bytes
        (b"{", "p.lms.content-completion.v1", "invalid-json"),
        (b"x" * 101, "p.lms.content-completion.v1", "too-large"),
        (json.dumps(FACT).encode(), "p.lms.progress.v1", "wrong-topic"),
        (json.dumps({**FACT, "type": "no.such"}).encode(), "p.lms.progress.v1", "unknown-type"),
        (
            json.dumps({**FACT, "id": "a\x00b"}).encode(),
            "p.lms.content-completion.v1",
            "invalid-event",
        ),
    ],
)
def test_bad_input_has_a_reason_that_starts_with_its_code(
    value: bytes | None, topic: str, code: str
) -> None:
    received = parse_record(_record(value, topic), TOPICS, 100 if code == "too-large" else 1 << 20)
    assert received.event is None and received.reason is not None
    assert received.reason.split(":")[0] == code, received.reason
