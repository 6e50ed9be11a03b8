"""Reading a replay's partitions to their end, and spilling learner facts to disk by group
of batches (`zlib.crc32` of the batchId), so that a group is folded whole, once."""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic_core import from_json

from consumers.progress import Progress
from schemas.topics import TOPIC_OF_TYPE

__all__ = [
    "GROUP_RECORDS",
    "Spill",
    "bounds",
    "groups_for",
    "read_partitions",
    "spilled_values",
]

Positions = dict[TopicPartition, int]
GROUP_RECORDS = 50_000  # facts folded at once (memory: a few hundred bytes to 2 KiB each)
_LEN = struct.Struct("<I")


async def bounds(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition], start: str | datetime
) -> tuple[Positions, Positions]:
    """Where to begin (`earliest`, or the first offset at or after a time) and where to stop
    (the end offsets seen now), per partition."""
    end: Positions = await consumer.end_offsets(tps)
    if start == "earliest":
        return await consumer.beginning_offsets(tps), end
    assert isinstance(start, datetime)
    found = await consumer.offsets_for_times({tp: int(start.timestamp() * 1000) for tp in tps})
    return {tp: found[tp].offset if found.get(tp) else end[tp] for tp in tps}, end


async def groups_for(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition], start: str | datetime
) -> int:
    """How many groups the records of these partitions make (at least one). Assigns them
    first: end offsets asked while a fetch of other partitions is in flight wait for it."""
    consumer.assign(tps)
    begin, end = await bounds(consumer, tps, start)
    records = sum(max(0, end[tp] - begin[tp]) for tp in tps)
    return max(1, -(-records // GROUP_RECORDS))


async def read_partitions(
    consumer: AIOKafkaConsumer,
    tps: list[TopicPartition],
    start: str | datetime,
    stop: asyncio.Event,
) -> AsyncIterator[list[Any]]:
    """The records of these partitions from `start` to their end offsets as of now, in polls,
    with a progress line on stderr at most once a second."""
    if not tps:
        return
    consumer.assign(tps)
    begin, end = await bounds(consumer, tps, start)
    for tp in tps:
        consumer.seek(tp, begin[tp])
    progress = Progress(begin, end)
    position = dict(begin)
    while not stop.is_set() and any(position[tp] < end[tp] for tp in tps):
        batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
        records = [r for tp, rs in batch.items() for r in rs if r.offset < end[tp]]
        for tp in batch:
            position[tp] = min(await consumer.position(tp), end[tp])
        if records:
            yield records
        progress.show(position)
    progress.show(position, final=True)


class Spill:
    """Learner facts on disk, one file per group of batches (`zlib.crc32` of the batchId)."""

    def __init__(self, folder: Path, count: int) -> None:
        self.count = count
        self._paths = [folder / f"group-{i}.bin" for i in range(count)]
        self._files: list[BinaryIO] = [p.open("wb") for p in self._paths]

    def group_of(self, record: Any, max_bytes: int) -> int | None:
        """The group of a record's batch; None for what cannot be a learner fact of its topic
        (checked in full when the group is folded)."""
        value = record.value
        if value is None or len(value) > max_bytes:
            return None
        try:
            # The fold's own JSON parser (jiter, through pydantic), three times as fast as
            # `json.loads` here: a value it cannot parse is bad input in the fold anyway.
            envelope = from_json(value)
            batch_id = envelope["data"]["batchId"]
            kind = envelope["type"]
        except (ValueError, KeyError, TypeError, RecursionError):
            return None
        if not isinstance(batch_id, str) or not isinstance(kind, str):
            return None
        if not record.topic.endswith(TOPIC_OF_TYPE.get(kind, "\0")):
            return None  # the wrong topic: the service dead-lettered it
        return self.group_of_batch(batch_id)

    def group_of_batch(self, batch_id: str) -> int:
        """The group a batch's facts are spilled to."""
        return zlib.crc32(batch_id.encode()) % self.count

    def add(self, group: int, value: bytes) -> None:
        self._files[group].write(_LEN.pack(len(value)) + value)

    def close(self) -> None:
        for f in self._files:
            f.close()

    def path(self, group: int) -> Path:
        """The file of a group (closed once spilling is done): `spilled_values` reads it."""
        return self._paths[group]


def spilled_values(path: Path) -> list[bytes]:
    """The values spilled to a group's file, in the order they were read."""
    data = path.read_bytes()
    out, at = [], 0
    while at < len(data):
        (size,) = _LEN.unpack_from(data, at)
        out.append(data[at + 4 : at + 4 + size])
        at += 4 + size
    return out
