"""A shadow replay spills each learner fact to the group of its batch, and counts what cannot
be a learner fact of its topic as bad (the fold of the group would reject it too)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from consumers.replay_spill import Spill, spill_chunk, spill_polls, spilled_values
from consumers.worker_pool import worker_pool

MAX_BYTES = 1 << 20


def _record(value: object, topic: str = "lms.progress.v1") -> SimpleNamespace:
    encoded = value if isinstance(value, bytes) or value is None else json.dumps(value).encode()
    return SimpleNamespace(topic=topic, value=encoded)


def _fact(batch_id: object = "batch $.é:1") -> dict[str, object]:
    return {
        "specversion": "1.0",
        "id": "p-1",
        "type": "content.progress",
        "source": "test",
        "time": "2026-06-01T10:00:00Z",
        "data": {"batchId": batch_id, "userId": "u", "contentId": "c", "progress": 40},
    }


def test_a_fact_goes_to_the_group_of_its_batch_and_comes_back_unchanged(tmp_path: Path) -> None:
    spill = Spill(tmp_path, 7)
    record = _record(_fact())
    group = spill.group_of(record, MAX_BYTES)
    assert group == spill.group_of_batch("batch $.é:1")
    assert group == spill.group_of(_record(_fact(), "prefix.lms.progress.v1"), MAX_BYTES)
    other = _record({**_fact(), "id": "p-2"})
    bad = spill_chunk(tmp_path, 7, MAX_BYTES, {record.topic: [record.value, None, b"{"]})
    assert bad == 2
    assert spill_chunk(tmp_path, 7, MAX_BYTES, {other.topic: [other.value]}) == 0
    assert spilled_values(spill.paths(group)) == [record.value, other.value]
    assert all(spilled_values(spill.paths(g)) == [] for g in range(7) if g != group)


async def test_polls_spilled_by_the_workers_make_each_group_whole_and_count_the_bad(
    tmp_path: Path,
) -> None:
    facts = [json.dumps({**_fact(f"batch {i % 9}"), "id": f"p-{i}"}).encode() for i in range(400)]
    records = [_record(f) for f in facts] + [_record(None), _record(b"{not json")]

    async def polls() -> AsyncIterator[list[SimpleNamespace]]:
        for i in range(0, len(records), 30):  # 14 polls: more than the workers take at once
            yield records[i : i + 30]

    with worker_pool(2) as pool:
        assert await spill_polls(pool, Spill(tmp_path, 5), polls(), MAX_BYTES) == (402, 2)
    spill = Spill(tmp_path, 5)
    spilled = {g: spilled_values(spill.paths(g)) for g in range(5)}
    assert sorted(v for values in spilled.values() for v in values) == sorted(facts)
    for group, values in spilled.items():
        assert all(spill.group_of(_record(json.loads(v)), MAX_BYTES) == group for v in values)


@pytest.mark.parametrize(
    "record",
    [
        _record(None),
        _record(b"{not json"),
        _record(b"\xff\xfe{}"),
        _record([_fact()]),
        _record("a string"),
        _record({"type": "content.progress"}),
        _record({**_fact(), "data": ["batchId"]}),
        _record(_fact(batch_id=7)),
        _record({**_fact(), "type": 3}),
        _record({**_fact(), "type": "no.such.type"}),
        _record(_fact(), "lms.assessment.v1"),  # a progress fact on another learner topic
        _record(b"[" * 100_000 + b"]" * 100_000),
        _record({**_fact(), "source": "x" * MAX_BYTES}),
    ],
    ids=[
        "tombstone",
        "not-json",
        "not-utf8",
        "array",
        "string",
        "no-data",
        "data-not-object",
        "batch-not-string",
        "type-not-string",
        "unknown-type",
        "wrong-topic",
        "deep-nesting",
        "too-large",
    ],
)
def test_what_cannot_be_a_learner_fact_of_its_topic_has_no_group(
    tmp_path: Path, record: SimpleNamespace
) -> None:
    assert Spill(tmp_path, 3).group_of(record, MAX_BYTES) is None
