"""Kafka helpers: topics, fast publishing, and the plain-consumer upper bound (figure A)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.workload import Message
from producers.topics import ensure_topics
from schemas.topics import Topics
from services.settings import Settings

__all__ = ["consume_all", "create_topics", "end_offsets", "new_producer", "publish"]

_SEND_CHUNK = 5000


async def create_topics(kafka: str, prefix: str) -> None:
    """The service's topics with the service's own settings (3 partitions each)."""
    settings = Settings(kafka_bootstrap=kafka, topic_prefix=prefix)
    await ensure_topics(settings, Topics(prefix))
    await asyncio.sleep(1.0)  # let the partitions elect their leader before the first send


def new_producer(kafka: str) -> AIOKafkaProducer:
    """A producer tuned for bulk: large batches, some linger."""
    return AIOKafkaProducer(
        bootstrap_servers=kafka,
        acks="all",
        linger_ms=20,
        max_batch_size=1_048_576,
        max_request_size=16_777_216,
    )


async def send_messages(
    producer: AIOKafkaProducer, prefix: str, messages: Sequence[Message]
) -> None:
    """Send and wait for every acknowledgement, a chunk of futures at a time."""
    for start in range(0, len(messages), _SEND_CHUNK):
        futures = [
            await producer.send(prefix + m.topic, m.value, key=m.key)
            for m in messages[start : start + _SEND_CHUNK]
        ]
        await asyncio.gather(*futures)


async def publish(kafka: str, prefix: str, messages: Sequence[Message]) -> float:
    """Publish in order; returns the seconds it took."""
    producer = new_producer(kafka)
    await producer.start()
    try:
        started = time.perf_counter()
        await send_messages(producer, prefix, messages)
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def end_offsets(kafka: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
    """The end offset of every partition of `topics`."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    probe = AIOKafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False)
    await admin.start()
    await probe.start()
    try:
        described = await admin.describe_topics(list(topics))
        tps = [
            TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]
        ]
        return dict(await probe.end_offsets(tps))
    finally:
        await probe.stop()
        await admin.close()


async def consume_all(kafka: str, topics: Sequence[str], expected: int) -> tuple[int, float]:
    """Figure A: read and JSON-decode `expected` records with a plain consumer.

    Returns (records, seconds), timed from the first fetch request to the last record.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=16_777_216,
        fetch_max_bytes=33_554_432,
    )
    partitions = list(await end_offsets(kafka, topics))
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning()
        count = 0
        decoded: Any = None
        started = time.perf_counter()
        deadline = started + 600
        while count < expected and time.perf_counter() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for records in batch.values():
                for record in records:
                    decoded = json.loads(record.value)
                count += len(records)
        del decoded
        return count, time.perf_counter() - started
    finally:
        await consumer.stop()
