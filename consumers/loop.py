"""The aiokafka loop: poll a batch, hand it to the pipeline, commit. Nothing else."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalGenerationError, RebalanceInProgressError
from tenacity import RetryCallState

from consumers.parsing import parse_record
from producers.kafka import translated
from schemas.topics import Topics
from services.pipeline import Pipeline
from services.ports import Received
from services.retry import retry_transient
from services.settings import Settings

__all__ = ["ConsumerLoop"]

log = structlog.get_logger("batch_service.consumer")
T = TypeVar("T")
_LOST_GENERATION = (CommitFailedError, IllegalGenerationError, RebalanceInProgressError)


class _WaitForBatchInHand(ConsumerRebalanceListener):
    """Partitions are given up only after the batch in hand is persisted and committed."""

    def __init__(self, lock: asyncio.Lock) -> None:
        self._lock = lock

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self._lock:
            log.info("partitions_revoked", partitions=_names(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        log.info("partitions_assigned", partitions=_names(assigned))


class ConsumerLoop:
    """One consumer group member: persist, then publish (the pipeline), then commit (here)."""

    def __init__(
        self, consumer: AIOKafkaConsumer, pipeline: Pipeline, topics: Topics, settings: Settings
    ) -> None:
        self._consumer = consumer
        self._pipeline = pipeline
        self._topics = topics
        self._settings = settings
        self._lock = asyncio.Lock()
        self.listener = _WaitForBatchInHand(self._lock)

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set: the batch in hand is always finished and committed first."""
        self._stop = stop
        await self._retry(self._relay)
        relayed_at = counted_at = time.monotonic()
        while not stop.is_set():
            batch = await self._consumer.getmany(
                timeout_ms=self._settings.poll_timeout_ms,
                max_records=self._settings.poll_max_records,
            )
            if batch:
                async with self._lock:
                    await self._handle(batch)
            now = time.monotonic()
            if not batch or now - counted_at > self._settings.recount_interval_s:
                await self._retry(self._pipeline.idle)
                counted_at = now
            if now - relayed_at > self._settings.relay_interval_s:
                await self._retry(self._relay)
                relayed_at = now
        await self._retry(self._pipeline.idle)  # leave exact counts behind

    async def _handle(self, batch: dict[TopicPartition, list[Any]]) -> None:
        received = [
            parse_record(record, self._topics, self._settings.max_event_bytes)
            for records in batch.values()
            for record in records
        ]
        for bad in (r for r in received if r.event is None):
            log.warning("dead_letter", **_where(bad), reason=bad.reason)
        report = await self._retry(lambda: self._pipeline.handle(received))  # persist, publish
        await self._commit({tp: records[-1].offset + 1 for tp, records in batch.items()})
        log.info(
            "batch_done",
            records=report.events,
            dead_letters=report.dead_letters,
            enrolments_written=report.enrolments_written,
            certificates=len(report.certificates),
            offsets={f"{tp.topic}:{tp.partition}": rs[-1].offset for tp, rs in batch.items()},
        )
        for event_id in report.certificates:
            log.info("certificate_published", event_id=event_id)

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        async def commit() -> None:
            async with translated():
                await self._consumer.commit(offsets)

        try:
            await self._retry(commit)
        except _LOST_GENERATION as exc:
            # The partitions moved to another member, which re-reads from the last commit;
            # folding is idempotent, so the repeat is harmless.
            log.warning("commit_lost_to_rebalance", error=repr(exc))

    async def _relay(self) -> None:
        for event_id in await self._pipeline.relay_pending():
            log.info("certificate_relayed", event_id=event_id)

    async def _retry(self, call: Callable[[], Awaitable[T]]) -> T:
        return await retry_transient(
            call,
            max_elapsed_s=self._settings.retry_max_elapsed_s,
            backoff_max_s=self._settings.retry_backoff_max_s,
            stop=self._stop,
            on_retry=_log_retry,
        )


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning("retrying", attempt=state.attempt_number, error=repr(error))


def _where(r: Received) -> dict[str, Any]:
    event_id = r.event.id if r.event else None
    return {"topic": r.topic, "partition": r.partition, "offset": r.offset, "event_id": event_id}


def _names(partitions: Any) -> list[str]:
    return sorted(f"{tp.topic}:{tp.partition}" for tp in partitions)
