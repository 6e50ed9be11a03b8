"""`replay --into` an empty shadow database, at the speed of reading Kafka and folding in
memory: the rule topics first (to their end), then the learner facts, spilled to disk in
groups of batches, each group folded once and inserted in bulk (`services.replaying`).

Memory holds one group at a time (about `_GROUP_RECORDS` facts); the spill files live in the
system's temporary directory for the replay's duration. A checkpoint after each group lets
`--resume` skip the groups already inserted (the facts are read and spilled again: reading
Kafka is the cheap part).
"""

from __future__ import annotations

import asyncio
import functools
import json
import struct
import sys
import tempfile
import time
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from consumers.bootstrap import Service, make_consumer
from consumers.parsing import parse_record
from consumers.progress import Progress
from producers.kafka import kafka_errors
from producers.topics import partitions_of
from schemas.events import CoursePublished, LearnerEvent, event_adapter
from schemas.topics import TOPIC_OF_TYPE
from services.convergence import BATCH_EVENTS
from services.errors import KafkaUnavailable
from services.pipeline import Pipeline
from services.replaying import fold_learners
from services.rules_snapshot import RulesSnapshot

__all__ = ["ShadowReplay", "bounds", "replay_into_shadow"]

Positions = dict[TopicPartition, int]
_GROUP_RECORDS = 50_000  # facts folded at once (memory: a few hundred bytes to 2 KiB each)
_RULE_TYPES = ("course.published", "batch.created", "batch.updated", "batch.cancelled")
_LEN = struct.Struct("<I")


@dataclass
class ShadowReplay:
    """What a shadow replay did."""

    records: int = 0
    documents: int = 0
    bad_records: int = 0
    certificates: int = 0
    statuses: int = 0
    groups: int = 0
    done: bool = False


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


async def replay_into_shadow(
    service: Service,
    start: str | datetime,
    stop: asyncio.Event,
    checkpoint: str,
    resume: bool,
) -> ShadowReplay:
    """Fold the inbound topics into the (empty, or resumed) shadow database of `service`."""
    settings, topics, stores = service.settings, service.topics, service.stores
    rule_topics = sorted({topics.prefix + TOPIC_OF_TYPE[t] for t in _RULE_TYPES})
    learner_topics = [t for t in topics.inbound if t not in rule_topics]
    saved = await stores.checkpoints.load(checkpoint) if resume else None
    done_groups: set[int] = set(saved["groups_done"]) if saved else set()
    report = ShadowReplay()
    consumer = make_consumer(settings, group_id=None)
    async with kafka_errors(KafkaUnavailable):
        await consumer.start()
    try:
        # 1. The rules, to their end, through the service's own pipeline (few, and ordered).
        pipeline = Pipeline(stores, _NoAnnouncements(), clock=service.clock)
        async for batch in _read(consumer, await partitions_of(settings, rule_topics), start, stop):
            received = [parse_record(r, topics, settings.max_event_bytes) for r in batch]
            report.bad_records += sum(r.event is None for r in received)
            report.records += len(received)
            await service.retry.run(functools.partial(pipeline.handle, received))
        if stop.is_set():
            return report
        rules = await _rules(service)
        # 2. The learner facts, spilled by group of batches.
        tps = await partitions_of(settings, learner_topics)
        with tempfile.TemporaryDirectory(prefix="batch-service-replay-") as spill_dir:
            spill = _Spill(Path(spill_dir), max(1, _estimate(await _sizes(consumer, tps, start))))
            async for batch in _read(consumer, tps, start, stop):
                for record in batch:
                    report.records += 1
                    group = spill.group_of(record, settings.max_event_bytes)
                    if group is None:
                        report.bad_records += 1
                    else:
                        spill.add(group, record.value)
            spill.close()
            if stop.is_set():
                return report
            # 3. Each group folded once, inserted in bulk, remembered.
            report.groups = spill.count
            for group in range(spill.count):
                if stop.is_set():
                    return report
                if group in done_groups:
                    continue
                await _fold_group(service, spill, group, rules, report)
                done_groups.add(group)
                await stores.checkpoints.save(
                    checkpoint, {"groups_done": sorted(done_groups), "savedAt": time.time()}
                )
                print(
                    f"replay: group {len(done_groups)}/{spill.count} folded "
                    f"({report.documents:,} documents so far)",
                    file=sys.stderr,
                    flush=True,
                )
        # 4. Counts, now that every roster is whole.
        await stores.counts.mark_stale(await stores.maintenance.all_batch_ids())
        await service.retry.run(stores.counts.recount_stale)
        await stores.checkpoints.drop(checkpoint)
        report.done = True
        return report
    finally:
        await consumer.stop()


async def _fold_group(
    service: Service, spill: _Spill, group: int, rules: RulesSnapshot, report: ShadowReplay
) -> None:
    events: list[LearnerEvent] = []
    for value in spill.values(group):
        try:
            event = event_adapter.validate_json(value)
        except (ValidationError, ValueError, RecursionError):
            report.bad_records += 1
            continue
        if isinstance(event, (CoursePublished, *BATCH_EVENTS)):
            report.bad_records += 1  # a rule event on a learner topic: the wrong topic
            continue
        events.append(event)
    fold = fold_learners(events, rules, service.clock.now())
    report.certificates += fold.certificates
    report.statuses += fold.statuses
    documents = service.stores.documents
    for i in range(0, len(fold.documents), 1000):
        chunk = fold.documents[i : i + 1000]
        # Inserts; on a resumed group some exist already, with the same content: left as is.
        await service.retry.run(functools.partial(documents.save_enrolments, chunk))
    report.documents += len(fold.documents)


async def _rules(service: Service) -> RulesSnapshot:
    documents = service.stores.documents
    batches = await documents.get_batches(await service.stores.maintenance.all_batch_ids())
    courses = await documents.get_courses({b.courseId for b in batches.values()})
    return RulesSnapshot(batches, courses)


async def _sizes(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition], start: str | datetime
) -> int:
    begin, end = await bounds(consumer, tps, start)
    return sum(max(0, end[tp] - begin[tp]) for tp in tps)


def _estimate(records: int) -> int:
    return -(-records // _GROUP_RECORDS)


async def _read(
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


class _Spill:
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
            envelope = json.loads(value)
            batch_id = envelope["data"]["batchId"]
            kind = envelope["type"]
        except (ValueError, KeyError, TypeError, RecursionError):
            return None
        if not isinstance(batch_id, str) or not isinstance(kind, str):
            return None
        if not record.topic.endswith(TOPIC_OF_TYPE.get(kind, "\0")):
            return None  # the wrong topic: the service dead-lettered it
        return zlib.crc32(batch_id.encode()) % self.count

    def add(self, group: int, value: bytes) -> None:
        self._files[group].write(_LEN.pack(len(value)))
        self._files[group].write(value)

    def close(self) -> None:
        for f in self._files:
            f.close()

    def values(self, group: int) -> list[bytes]:
        data = self._paths[group].read_bytes()
        out, at = [], 0
        while at < len(data):
            (size,) = _LEN.unpack_from(data, at)
            out.append(data[at + 4 : at + 4 + size])
            at += 4 + size
        return out


class _NoAnnouncements:
    """A shadow announces nothing: rule events decide no announcement anyway."""

    async def announce(self, events: Any, traces: Any = None) -> None:
        pass

    async def publish_fact(self, event: Any) -> None:
        raise AssertionError("a replay folds facts; it never decides new ones")

    async def dead_letter(self, letters: Any) -> None:
        pass

    async def reachable(self) -> None:
        pass
