"""Start-up upgrades of documents written by earlier versions; idempotent, safe to run from
several instances at once, and cheap when there is nothing to do (two queries).

Contract v1.1 added fields to every document (a learner's seat and status, a batch's
capacity, status and waitlist count). A database not yet at v1.1 gets every batch marked for
re-evaluation and recount: the service's idle sweep then settles each batch's learners (and
announces their current statuses, once), with the same crash-safe machinery as a rule change.

Batches written before batch events were remembered by id carry `appliedOffsets`, the last
offset they applied per partition of `lms.batch.v1`. Those offsets are still meaningful in
the cluster that wrote them, so the ids of the events at or below them are read back from
the topic once and remembered; after that, a replay skips them by id like any other. (Events
the topic no longer holds, past its retention, cannot be read back: a replay cannot read
them either.)
"""

from __future__ import annotations

import functools
from collections import defaultdict

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from consumers.bootstrap import Service, make_consumer
from consumers.parsing import parse_record
from producers.topics import partitions_of
from schemas.documents import DOCUMENT_VERSION
from schemas.events import BatchCancelled, BatchCreated, BatchUpdated

__all__ = ["SCHEMA_VERSION", "upgrade_documents"]

log = structlog.get_logger("batch_service.upgrade")
_BATCH_EVENTS = (BatchCreated, BatchUpdated, BatchCancelled)


SCHEMA_VERSION = DOCUMENT_VERSION


async def upgrade_documents(service: Service) -> None:
    """Run every upgrade the database needs."""
    await _remember_legacy_offsets(service)
    await _to_contract_1_1(service)


async def _to_contract_1_1(service: Service) -> None:
    stores = service.stores
    if await service.retry.run(stores.maintenance.schema_version) == SCHEMA_VERSION:
        return
    batch_ids = await service.retry.run(stores.maintenance.all_batch_ids)
    # Old at once (`at` 0): every instance's idle sweep may take them.
    await service.retry.run(functools.partial(stores.refresh.mark, batch_ids, at=0.0))
    await service.retry.run(functools.partial(stores.counts.mark_stale, batch_ids))
    await service.retry.run(
        functools.partial(stores.maintenance.set_schema_version, SCHEMA_VERSION)
    )
    log.info("upgrade_marked", to=SCHEMA_VERSION, batches_to_settle=len(batch_ids))


async def _remember_legacy_offsets(service: Service) -> None:
    legacy = await service.retry.run(service.stores.maintenance.legacy_applied_offsets)
    if not legacy:
        return
    log.info(
        "upgrade_started", what="batch appliedOffsets to remembered event ids", batches=len(legacy)
    )
    ids = await _ids_at_or_below(service, legacy)
    documents, maintenance = service.stores.documents, service.stores.maintenance
    for batch_id, event_ids in ids.items():
        await service.retry.run(
            functools.partial(documents.remember_batch_events, batch_id, event_ids)
        )
    await service.retry.run(functools.partial(maintenance.forget_legacy_applied_offsets, legacy))
    log.info("upgrade_done", batches=len(legacy), events=sum(map(len, ids.values())))


async def _ids_at_or_below(
    service: Service, legacy: dict[str, dict[int, int]]
) -> dict[str, list[str]]:
    """The ids of the batch events each legacy batch had applied, read from the topic."""
    last: dict[int, int] = defaultdict(lambda: -1)
    for offsets in legacy.values():
        for partition, offset in offsets.items():
            last[partition] = max(last[partition], offset)
    found: dict[str, list[str]] = defaultdict(list)
    consumer = make_consumer(service.settings, group_id=None)
    await consumer.start()
    try:
        existing = await partitions_of(service.settings, [service.topics.batch])
        tps = [tp for tp in existing if tp.partition in last]
        await _read_until(consumer, tps, last, service, legacy, found)
    finally:
        await consumer.stop()
    return found


async def _read_until(
    consumer: AIOKafkaConsumer,
    tps: list[TopicPartition],
    last: dict[int, int],
    service: Service,
    legacy: dict[str, dict[int, int]],
    found: dict[str, list[str]],
) -> None:
    if not tps:
        return
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    ends = await consumer.end_offsets(tps)
    stop_at = {tp: min(last[tp.partition] + 1, ends[tp]) for tp in tps}
    pending = {tp for tp in tps if await consumer.position(tp) < stop_at[tp]}
    while pending:
        batch = await consumer.getmany(*pending, timeout_ms=1000)
        for tp, records in batch.items():
            for record in records:
                if record.offset >= stop_at[tp]:
                    break
                event = parse_record(record, service.topics, service.settings.max_event_bytes).event
                if isinstance(event, _BATCH_EVENTS):
                    applied_up_to = legacy.get(event.data.batchId, {}).get(tp.partition, -1)
                    if record.offset <= applied_up_to:
                        found[event.data.batchId].append(event.id)
        pending = {tp for tp in pending if await consumer.position(tp) < stop_at[tp]}
