"""Spilling a replay's learner facts to disk by group of batches (`zlib.crc32` of the
batchId), so that a group is folded whole, once. The spilling runs in worker processes
(`spill_chunk`) beside the reading (`consumers.replay_reading`)."""

from __future__ import annotations

import asyncio
import os
import struct
import zlib
from collections import deque
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import Executor, Future, wait
from pathlib import Path
from typing import Any

from pydantic_core import from_json

from consumers.replay_reading import Positions
from schemas.topics import TOPIC_OF_TYPE

__all__ = [
    "GROUP_RECORDS",
    "Spill",
    "group_count",
    "group_of_batch",
    "group_of_value",
    "spill_chunk",
    "spill_polls",
    "spilled_values",
]

GROUP_RECORDS = 50_000  # facts folded at once (memory: a few hundred bytes to 2 KiB each)
_LEN = struct.Struct("<I")
_SPILLING_AHEAD = 4  # polls handed to the workers to spill and not yet spilled (memory)


def group_count(begin: Positions, end: Positions) -> int:
    """How many groups the records between these offsets make (at least one)."""
    records = sum(max(0, end[tp] - begin[tp]) for tp in end)
    return max(1, -(-records // GROUP_RECORDS))


class Spill:
    """Learner facts on disk, in files by group of batches (`zlib.crc32` of the batchId).

    The facts are routed (parsed for their batch) in the fold's worker processes
    (`spill_chunk`), while this process reads Kafka: each worker appends to files of its own
    (`group-<g>.<pid>.bin`), and a group is all of its files (the fold does not depend on the
    order of the facts)."""

    def __init__(self, folder: Path, count: int) -> None:
        self.folder = folder
        self.count = count

    def group_of(self, record: Any, max_bytes: int) -> int | None:
        """The group of a record's batch; None for what cannot be a learner fact of its topic
        (checked in full when the group is folded)."""
        return group_of_value(record.topic, record.value, max_bytes, self.count)

    def group_of_batch(self, batch_id: str) -> int:
        """The group a batch's facts are spilled to."""
        return group_of_batch(batch_id, self.count)

    def paths(self, group: int) -> list[Path]:
        """The files of a group, once spilling is done: `spilled_values` reads them."""
        return sorted(self.folder.glob(f"group-{group}.*.bin"))


def group_of_batch(batch_id: str, count: int) -> int:
    """The group, of `count`, that a batch's facts are spilled to."""
    return zlib.crc32(batch_id.encode()) % count


def group_of_value(topic: str, value: bytes | None, max_bytes: int, count: int) -> int | None:
    """The group of a learner fact's batch; None for what cannot be one of its topic."""
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
    if not topic.endswith(TOPIC_OF_TYPE.get(kind, "\0")):
        return None  # the wrong topic: the service dead-lettered it
    return group_of_batch(batch_id, count)


def spill_chunk(
    folder: Path, count: int, max_bytes: int, chunk: dict[str, list[bytes | None]]
) -> int:
    """Route a chunk of records (values by topic) to their groups' files of this process, in
    a worker; how many could not be a learner fact of their topic (bad records)."""
    by_group: dict[int, list[bytes]] = {}
    bad = 0
    for topic, values in chunk.items():
        for value in values:
            group = group_of_value(topic, value, max_bytes, count)
            if value is None or group is None:
                bad += 1
            else:
                by_group.setdefault(group, []).append(_LEN.pack(len(value)) + value)
    for group, framed in by_group.items():
        with (folder / f"group-{group}.{os.getpid()}.bin").open("ab") as f:
            f.write(b"".join(framed))
    return bad


async def spill_polls(
    pool: Executor, spill: Spill, polls: AsyncIterator[list[Any]], max_bytes: int
) -> tuple[int, int]:
    """Hand each poll's records to the worker processes, which route them to their groups'
    files (parsing is the routing's cost: in the reading process, it held up the reading), a
    few polls behind the reading at most; the records read, and how many were bad. On an
    error, the chunks being spilled are let finish (the spill's folder is removed next) and
    the others dropped."""
    records = bad = 0
    routing: deque[Future[int]] = deque()
    try:
        async for poll in polls:
            records += len(poll)
            chunk: dict[str, list[bytes | None]] = {}
            for record in poll:
                chunk.setdefault(record.topic, []).append(record.value)
            routing.append(pool.submit(spill_chunk, spill.folder, spill.count, max_bytes, chunk))
            while len(routing) > _SPILLING_AHEAD:
                bad += await asyncio.wrap_future(routing[0])
                routing.popleft()
        while routing:
            bad += await asyncio.wrap_future(routing[0])
            routing.popleft()
    finally:
        for future in routing:
            future.cancel()
        if routing:
            await asyncio.to_thread(wait, routing)
    return records, bad


def spilled_values(paths: Sequence[Path]) -> list[bytes]:
    """The values spilled to a group's files."""
    out = []
    for path in paths:
        data = path.read_bytes()
        at = 0
        while at < len(data):
            (size,) = _LEN.unpack_from(data, at)
            out.append(data[at + 4 : at + 4 + size])
            at += 4 + size
    return out
