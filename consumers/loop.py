"""The aiokafka loop: poll a batch, hand it to the pipeline, commit. Nothing else."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from consumers.lag import LagGauge
from consumers.parsing import parse_record
from consumers.rebalance import WaitForBatchInHand, commit_errors
from consumers.topic_watch import TopicWatch
from producers.kafka import kafka_errors
from schemas.topics import Topics
from services.errors import CommitLostToRebalance, KafkaUnavailable
from services.pipeline import Pipeline
from services.ports import Received
from services.retry import RetryPolicy
from services.settings import Settings
from telemetry import Health, Metrics, MetricsObserver

__all__ = ["ConsumerLoop"]

log = structlog.get_logger("batch_service.consumer")


class ConsumerLoop:
    """One consumer group member: persist, then publish (the pipeline), then commit (here)."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        pipeline: Pipeline,
        topics: Topics,
        settings: Settings,
        retry: RetryPolicy,
        *,
        metrics: Metrics | None = None,
        health: Health | None = None,
    ) -> None:
        self._consumer = consumer
        self._pipeline = pipeline
        self._topics = topics
        self._settings = settings
        self._retry = retry
        self._metrics = metrics or Metrics()
        self._health = health or Health(settings.liveness_timeout_s)
        self._observer = MetricsObserver(self._metrics)
        self._lock = asyncio.Lock()
        self._lag = LagGauge(consumer, self._metrics, self._health)
        self.listener = WaitForBatchInHand(self._lock, consumer, self._lag)
        self._watch = TopicWatch(topics.inbound)

    async def start(self) -> None:
        """Subscribe to the inbound topics and join the group (retried while Kafka is away)."""
        self._consumer.subscribe(list(self._topics.inbound), listener=self.listener)
        await self._retry.run(self._start_consumer)

    async def _start_consumer(self) -> None:
        async with kafka_errors(KafkaUnavailable):
            await self._consumer.start()

    async def stop(self) -> None:
        """Leave the group."""
        self._lag.close()
        await self._consumer.stop()

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop` is set: the batch in hand is always finished and committed first."""
        self._health.consuming = True
        await self._retry.run(self._relay)
        await self._retry.run(self._tick)
        clock_work = asyncio.create_task(self._clock_work(stop))
        try:
            await self._consume(stop, clock_work)
        finally:
            clock_work.cancel()
            try:
                await clock_work
            except asyncio.CancelledError:
                pass
            except Exception as exc:  # raised by `_consume` already, or cut short by `stop`
                log.warning("clock_work_ended", error=repr(exc))
        await self._retry.run(self._pipeline.idle)  # leave exact counts behind

    async def _consume(self, stop: asyncio.Event, clock_work: asyncio.Task[None]) -> None:
        relayed_at = counted_at = watched_at = time.monotonic()
        while not stop.is_set():
            if clock_work.done():
                clock_work.result()  # its retries ran out: the process ends, as for a poll
            self._health.beat()
            batch = await self._poll()
            if batch:
                async with self._lock:
                    await self._handle(batch)
            await self._lag.update()
            now = time.monotonic()
            # Quiet: nothing came and nothing waits (a poll can come back empty under a
            # backlog too, while a fetch is on its way).
            quiet = not batch and not await self._waiting()
            if quiet or now - counted_at > self._settings.recount_interval_s:
                await self._step("idle", functools.partial(self._pipeline.idle, quiet))
                counted_at = now
            if now - relayed_at > self._settings.relay_interval_s:
                await self._step("relay", self._relay)
                relayed_at = now
            if now - watched_at > self._settings.metadata_max_age_ms / 1000:
                self._watch.look(self._consumer)
                watched_at = now

    async def _clock_work(self, stop: asyncio.Event) -> None:
        """Every `status_refresh_s`, the clock's work (contract 8), beside the fold: a poll that
        takes minutes under a backlog must not leave `status` staler than that. At a fixed
        rate: a tick's own length does not stretch the period (one that overruns it is
        followed at once, not twice)."""
        period = self._settings.status_refresh_s
        due = time.monotonic() + period
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, due - time.monotonic()))
            if stop.is_set():
                return
            due = max(due + period, time.monotonic())
            await self._step("tick", self._tick)

    async def _poll(self) -> dict[TopicPartition, list[Any]]:
        """One poll. Under a backlog (more waiting than a poll takes), more is fetched into it
        (up to `poll_backlog_records`), from every partition that has records waiting, then
        it is cut at a common point in record time: one fold then writes each learner once
        for the facts of several topics and partitions, instead of once per poll that holds
        some of them. Without a backlog a poll is what one fetch brings: no wait, no cut."""
        settings = self._settings
        batch = await self._consumer.getmany(
            timeout_ms=settings.poll_timeout_ms, max_records=settings.poll_max_records
        )
        waiting = await self._waiting()
        if not batch or sum(waiting.values()) <= settings.poll_max_records:
            return batch
        total = sum(map(len, batch.values()))
        deadline = time.monotonic() + settings.poll_timeout_ms / 1000
        while total < settings.poll_backlog_records:
            wanted = _laggards(batch, list(waiting))
            left_ms = 1000 * (deadline - time.monotonic())
            if not wanted or left_ms <= 0:
                break
            more = await self._consumer.getmany(
                *wanted,
                timeout_ms=min(settings.poll_gather_ms, int(left_ms) + 1),
                max_records=min(settings.poll_max_records, settings.poll_backlog_records - total),
            )
            for tp, records in more.items():
                batch.setdefault(tp, []).extend(records)
            total += sum(map(len, more.values()))
            waiting = await self._waiting()
        return self._cut_in_step(batch, list(waiting))

    async def _waiting(self) -> dict[TopicPartition, int]:
        """The partitions with records the loop has not taken yet, and how many (records
        fetched and not yet taken count too: they wait in the consumer's buffer)."""
        waiting = {}
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)  # None until fetched: not known to wait
            if highwater is not None and highwater > (
                position := await self._consumer.position(tp)
            ):
                waiting[tp] = highwater - position
        return waiting

    def _cut_in_step(
        self, batch: dict[TopicPartition, list[Any]], waiting: list[TopicPartition]
    ) -> dict[TopicPartition, list[Any]]:
        """Keep, of each partition, the records up to the earliest "last record fetched" among
        the partitions that have more waiting; seek back to the first record not kept, which
        the next poll fetches again. A learner's facts reach several topics (enrolments keyed
        by batch, progress by user) at about the same time, and partitions are fetched at
        different speeds: cut in record time, a poll holds all of a learner's facts of that
        time, and the learner is written once."""
        behind = [tp for tp in waiting if batch.get(tp)]
        if not behind:
            return batch
        cut = min(batch[tp][-1].timestamp for tp in behind)
        kept: dict[TopicPartition, list[Any]] = {}
        for tp, records in batch.items():
            n = next((i for i, r in enumerate(records) if r.timestamp > cut), len(records))
            if n < len(records):
                self._consumer.seek(tp, records[n].offset)
            if n:
                kept[tp] = records[:n]
        return kept

    async def _step(self, name: str, work: Callable[[], Awaitable[None]]) -> None:
        with self._observer.step(name):
            await self._retry.run(work)

    async def _handle(self, batch: dict[TopicPartition, list[Any]]) -> None:
        received = [
            parse_record(record, self._topics, self._settings.max_event_bytes)
            for records in batch.values()
            for record in records
        ]
        self._metrics.poll_records.observe(len(received))
        with self._observer.step("poll"):  # its log lines carry the poll's trace id
            for bad in (r for r in received if r.event is None):
                log.warning("dead_letter", **_where(bad), reason=bad.reason)
            report = await self._retry.run(lambda: self._pipeline.handle(received))
            offsets = {tp: records[-1].offset + 1 for tp, records in batch.items()}
            with self._observer.step("commit"):
                committed = await self._commit(offsets)
            log.info(
                "batch_done",
                records=report.events,
                dead_letters=report.dead_letters,
                enrolments_written=report.enrolments_written,
                certificates=len(report.certificates),
                statuses=len(report.announced) - len(report.certificates),
                offsets={f"{tp.topic}:{tp.partition}": rs[-1].offset for tp, rs in batch.items()},
            )
            for event_id in report.certificates:
                log.info("certificate_published", event_id=event_id)
        if committed:
            self._lag.committed(offsets)
            folded = Counter(r.topic for r in received if r.event is not None)
            for topic, count in folded.items():
                self._metrics.folded.labels(topic).inc(count)

    async def _commit(self, offsets: dict[TopicPartition, int]) -> bool:
        async def commit() -> None:
            # aiokafka waits for the coordinator for ever: bounded here, a retried error.
            timeout_s = self._settings.kafka_request_timeout_ms / 1000
            async with commit_errors(), asyncio.timeout(timeout_s):
                await self._consumer.commit(offsets)

        try:
            await self._retry.run(commit)
        except CommitLostToRebalance as exc:
            # The partitions moved to another member, which re-reads from the last commit;
            # folding is idempotent, so the repeat is harmless.
            log.warning("commit_lost_to_rebalance", error=str(exc))
            return False
        self._metrics.committed()
        return True

    async def _relay(self) -> None:
        for event_id in await self._pipeline.relay_pending():
            log.info("announcement_relayed", event_id=event_id)

    async def _tick(self) -> None:
        self._health.tick_started()  # each attempt: liveness fails if one never returns
        try:
            report = await self._pipeline.tick()
        finally:
            self._health.tick_ended()
        for event_id in report.facts_published:
            log.info("batch_auto_cancel_published", event_id=event_id)


def _laggards(
    batch: dict[TopicPartition, list[Any]], waiting: list[TopicPartition]
) -> list[TopicPartition]:
    """Of the partitions with records waiting, those to fetch next: the ones this poll has
    nothing of yet, else the ones it holds the least far in record time (they set the cut)."""
    missing = [tp for tp in waiting if not batch.get(tp)]
    if missing or not waiting:
        return missing
    earliest = min(batch[tp][-1].timestamp for tp in waiting)
    return [tp for tp in waiting if batch[tp][-1].timestamp == earliest]


def _where(r: Received) -> dict[str, Any]:
    event_id = r.event.id if r.event else None
    return {"topic": r.topic, "partition": r.partition, "offset": r.offset, "event_id": event_id}
