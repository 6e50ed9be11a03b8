"""Reading a replay's partitions between fixed offsets, and those offsets as checkpoint rows:
a resumed replay reads to where the interrupted one was to stop, not to the end of now."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from consumers.progress import Progress

__all__ = [
    "Positions",
    "bounds",
    "polls",
    "position_rows",
    "positions_from",
    "read_partitions",
    "resumed_bounds",
]

Positions = dict[TopicPartition, int]


async def bounds(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition], start: str | datetime
) -> tuple[Positions, Positions]:
    """Where to begin (`earliest`, or the first offset at or after a time) and where to stop
    (the end offsets seen now), per partition. Assign the partitions first: end offsets asked
    while a fetch of other partitions is in flight wait for it."""
    end: Positions = await consumer.end_offsets(tps)
    if start == "earliest":
        return await consumer.beginning_offsets(tps), end
    assert isinstance(start, datetime)
    found = await consumer.offsets_for_times({tp: int(start.timestamp() * 1000) for tp in tps})
    return {tp: found[tp].offset if found.get(tp) else end[tp] for tp in tps}, end


async def resumed_bounds(
    consumer: AIOKafkaConsumer,
    tps: list[TopicPartition],
    start: str | datetime,
    saved: dict[str, Any] | None,
    begin_key: str,
) -> tuple[Positions, Positions]:
    """`bounds`, unless a checkpoint resumes: then its offsets (`saved[begin_key]` and
    `saved["end"]`), so that facts published since do not move where the replay stops. A
    checkpoint written before it kept `end` gets fresh bounds."""
    if saved is not None and "end" in saved:
        return positions_from(saved[begin_key]), positions_from(saved["end"])
    consumer.assign(tps)
    return await bounds(consumer, tps, start)


async def polls(
    consumer: AIOKafkaConsumer,
    tps: list[TopicPartition],
    begin: Positions,
    end: Positions,
    stop: asyncio.Event,
    max_records: int = 10_000,
) -> AsyncGenerator[tuple[list[Any], Positions], None]:
    """Every poll of these partitions from `begin` to `end`, empty ones too: its records
    (those before `end`) and the positions after it, for a checkpoint written once the records
    are handled. A progress line on stderr at most once a second."""
    if not tps:
        return
    consumer.assign(tps)
    for tp in tps:
        consumer.seek(tp, begin[tp])
    begin, end = {tp: begin[tp] for tp in tps}, {tp: end[tp] for tp in tps}
    progress = Progress(begin, end)
    position = dict(begin)
    while not stop.is_set() and any(position[tp] < end[tp] for tp in tps):
        batch = await consumer.getmany(timeout_ms=500, max_records=max_records)
        records = [r for tp, rs in batch.items() for r in rs if r.offset < end[tp]]
        for tp in batch:
            position[tp] = min(await consumer.position(tp), end[tp])
        yield records, dict(position)
        progress.show(position)
    progress.show(position, final=True)


async def read_partitions(
    consumer: AIOKafkaConsumer,
    tps: list[TopicPartition],
    begin: Positions,
    end: Positions,
    stop: asyncio.Event,
) -> AsyncIterator[list[Any]]:
    """The records of these partitions from `begin` to `end`, in polls (those with records)."""
    async with aclosing(polls(consumer, tps, begin, end, stop)) as read:
        async for records, _ in read:
            if records:
                yield records


def position_rows(positions: Positions) -> list[dict[str, Any]]:
    """Positions as a checkpoint stores them: rows of sub-documents (FerretDB 1.x does not
    store nested arrays, and a topic's dots cannot name a field)."""
    return [
        {"topic": tp.topic, "partition": tp.partition, "offset": offset}
        for tp, offset in sorted(positions.items())
    ]


def positions_from(rows: list[dict[str, Any]]) -> Positions:
    """The positions of `position_rows`."""
    return {TopicPartition(r["topic"], int(r["partition"])): int(r["offset"]) for r in rows}
