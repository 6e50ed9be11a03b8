"""Consumer lag per partition, as operators read it: the high-water mark (as of the last
fetch) minus the offset the group committed. Kept here, from what the loop commits, so
reading it costs no request; a partition newly assigned asks the coordinator once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from telemetry import Health, Metrics

__all__ = ["LagGauge"]

log = structlog.get_logger("batch_service.consumer")
_ASK_TIMEOUT_S = 5.0


class LagGauge:
    """`batch_service_consumer_lag_records{topic,partition}` for the partitions this member
    holds (a revoked partition's series is removed: another member reports it)."""

    def __init__(self, consumer: AIOKafkaConsumer, metrics: Metrics, health: Health) -> None:
        self._consumer = consumer
        self._metrics = metrics
        self._health = health
        self._committed: dict[TopicPartition, int] = {}
        self._unknown: set[TopicPartition] = set()
        # Also at every scrape: a poll in hand (a slow one, or one waiting out a Kafka outage)
        # would otherwise freeze the gauge at its value from before the poll.
        metrics.before_render(self._set_known)

    def close(self) -> None:
        """Stop reporting at scrapes (the consumer is leaving the group)."""
        self._metrics.stop_rendering(self._set_known)

    def assigned(self, partitions: Iterable[TopicPartition]) -> None:
        self._health.assigned = True
        self._metrics.rebalances.inc()
        self._unknown |= set(partitions)

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        for tp in partitions:
            self._committed.pop(tp, None)
            self._unknown.discard(tp)
            with contextlib.suppress(KeyError):  # never reported
                self._metrics.lag.remove(tp.topic, str(tp.partition))

    def committed(self, offsets: Mapping[TopicPartition, int]) -> None:
        self._committed.update(offsets)

    async def update(self) -> None:
        """Set the gauge of every held partition whose high-water mark is known."""
        if self._unknown:
            await self._ask_committed()
        self._set_known()

    def _set_known(self) -> None:
        """The gauges from the high-water marks of the last fetches (the fetcher goes on while
        a poll is handled) and the offsets committed; asks nothing."""
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            committed = self._committed.get(tp)
            if highwater is not None and committed is not None:
                lag = max(0, highwater - committed)
                self._metrics.lag.labels(tp.topic, str(tp.partition)).set(lag)

    async def _ask_committed(self) -> None:
        """The group's committed offset of newly assigned partitions (the log start where the
        group never committed). A failure is retried on the next update: only a gauge waits."""
        asking = sorted(self._unknown)
        try:
            async with asyncio.timeout(_ASK_TIMEOUT_S):
                starts = await self._consumer.beginning_offsets(asking)
                for tp in asking:
                    committed = await self._consumer.committed(tp)
                    self._committed[tp] = committed if committed is not None else starts[tp]
                    self._unknown.discard(tp)
        except (KafkaError, OSError, TimeoutError) as exc:
            log.debug("lag_offsets_unavailable", error=repr(exc))
