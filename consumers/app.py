"""The composition root: builds and wires every client from one Settings, runs, stops."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

import structlog
from aiokafka import AIOKafkaConsumer

from consumers.logs import configure_logging
from consumers.loop import ConsumerLoop
from producers.kafka import KafkaPublisher, kafka_client_options
from producers.topics import ensure_topics
from schemas.topics import Topics
from services.pipeline import Pipeline
from services.retry import retry_transient
from services.settings import Settings
from services.storage.mongo import MongoStore

__all__ = ["Wiring", "run_service", "wired"]

log = structlog.get_logger("batch_service")
T = TypeVar("T")


@dataclass
class Wiring:
    """The connected pieces of one service instance."""

    settings: Settings
    topics: Topics
    store: MongoStore
    publisher: KafkaPublisher
    pipeline: Pipeline


@asynccontextmanager
async def wired(
    settings: Settings, db_name: str | None = None, stop: asyncio.Event | None = None
) -> AsyncIterator[Wiring]:
    """Connect MongoDB and the Kafka producer (creating indexes and topics); close on exit."""
    topics = Topics(settings.topic_prefix)
    client, store = MongoStore.connect(
        settings.mongodb_uri,
        db_name or settings.db,
        timeout_ms=settings.mongo_timeout_ms,
        bulk_chunk=settings.mongo_bulk_chunk,
        write_concurrency=settings.mongo_write_concurrency,
        **settings.mongo_client_options(),
    )

    async def retry(call: Callable[[], Awaitable[T]]) -> T:
        return await retry_transient(
            call,
            max_elapsed_s=settings.retry_max_elapsed_s,
            backoff_max_s=settings.retry_backoff_max_s,
            stop=stop,
        )

    try:
        await retry(store.create_indexes)
        if settings.create_topics:
            created = await retry(lambda: ensure_topics(settings, topics))
            if created:
                log.info("topics_created", topics=created)
        publisher = KafkaPublisher(settings, topics)
        await retry(publisher.start)
        try:
            yield Wiring(settings, topics, store, publisher, Pipeline(store, publisher))
        finally:
            await publisher.stop()
    finally:
        await client.close()


async def run_service(settings: Settings) -> int:
    """`batch-service run`: consume until SIGTERM/SIGINT, finish the batch in hand, exit 0."""
    configure_logging(settings.log_level)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("starting", kafka=settings.kafka_bootstrap, db=settings.db, group=settings.group_id)
    async with wired(settings, stop=stop) as w:
        consumer = AIOKafkaConsumer(
            **kafka_client_options(settings),
            group_id=settings.group_id,
            client_id="batch-service",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=settings.fetch_partition_bytes,
            fetch_max_bytes=settings.fetch_max_bytes,
            session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=settings.heartbeat_interval_ms,
            max_poll_interval_ms=settings.max_poll_interval_ms,
        )
        consumer_loop = ConsumerLoop(consumer, w.pipeline, w.topics, settings)
        consumer.subscribe(list(w.topics.inbound), listener=consumer_loop.listener)
        await retry_transient(
            consumer.start, max_elapsed_s=settings.retry_max_elapsed_s, backoff_max_s=5.0, stop=stop
        )
        try:
            log.info("consuming", topics=list(w.topics.inbound))
            await consumer_loop.run(stop)
        finally:
            await consumer.stop()
    log.info("stopped")
    return 0
