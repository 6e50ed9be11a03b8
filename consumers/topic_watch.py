"""Watching the inbound topics as the consumer's metadata sees them, so that a topic deleted,
recreated or repartitioned under a running service is said in the log, not guessed at.

The consumer refreshes its metadata every `metadata_max_age_ms` (30 s by default, not Kafka's
5 minutes), which is how soon a recreated topic is consumed again. Re-reading is harmless
(batch events are remembered by id, learner facts fold idempotently), so a partition whose
committed offset lies beyond its end (the topic was recreated, or truncated) is simply read
from its beginning, and said so.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

__all__ = ["TopicWatch", "report_offsets_beyond_end"]

log = structlog.get_logger("batch_service.topics")


class TopicWatch:
    """Remembers how many partitions each topic had at the last look, and logs changes."""

    def __init__(self, topics: Iterable[str]) -> None:
        self._partitions: dict[str, int | None] = dict.fromkeys(topics, -1)

    def look(self, consumer: AIOKafkaConsumer) -> None:
        """Compare the consumer's current metadata with the last look."""
        for topic, before in self._partitions.items():
            found = consumer.partitions_for_topic(topic)
            now = len(found) if found else None
            if now == before:
                continue
            self._partitions[topic] = now
            if before == -1:
                if now is None:
                    log.warning("topic_missing", topic=topic)
            elif now is None:
                log.warning("topic_missing", topic=topic, partitions_before=before)
            elif before is None:
                log.warning("topic_available", topic=topic, partitions=now)
            else:
                log.warning("topic_partitions_changed", topic=topic, before=before, now=now)


async def report_offsets_beyond_end(consumer: AIOKafkaConsumer, assigned: Any) -> None:
    """Log the partitions whose committed offset lies beyond their end: the topic was
    recreated or truncated, and Kafka resets them to their beginning (auto_offset_reset)."""
    partitions: list[TopicPartition] = sorted(assigned)
    if not partitions:
        return
    ends = await consumer.end_offsets(partitions)
    for tp in partitions:
        committed = await consumer.committed(tp)
        if committed is not None and committed > ends.get(tp, committed):
            log.warning(
                "offsets_beyond_end",
                topic=tp.topic,
                partition=tp.partition,
                committed=committed,
                end=ends[tp],
                action="the topic was recreated or truncated: reading it from its beginning",
            )
