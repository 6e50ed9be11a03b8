"""The composition root: every client of a process is built and wired here, from one Settings.

`bootstrap()` is what `run`, `replay`, `publish` and the tests start through. Each piece is a
parameter with a default, so a test can pass a fake (an in-memory store, a recording
publisher) and keep the rest real.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import structlog
from aiokafka import AIOKafkaConsumer
from tenacity import RetryCallState

from consumers.loop import ConsumerLoop
from producers.kafka import KafkaPublisher, kafka_client_options
from producers.sdk import BatchEventPublisher
from producers.topics import ensure_topics
from schemas.topics import Topics
from services.clock import SystemClock
from services.errors import BatchServiceError
from services.pipeline import Pipeline
from services.ports import Clock, EventPublisher, Stores
from services.retry import RetryPolicy
from services.settings import Settings
from services.storage import MongoStore
from telemetry import Health, Metrics, MetricsObserver, MongoCommandMetrics

__all__ = [
    "Service",
    "bootstrap",
    "make_consumer",
    "open_mongo_store",
    "retry_policy",
    "sdk_publisher",
]

log = structlog.get_logger("batch_service")


@dataclass
class Service:
    """The wired pieces of one process."""

    settings: Settings
    topics: Topics
    stores: Stores
    publisher: EventPublisher
    pipeline: Pipeline
    retry: RetryPolicy
    clock: Clock
    metrics: Metrics
    health: Health

    def consumer_loop(self, consumer: AIOKafkaConsumer | None = None) -> ConsumerLoop:
        """The group member that feeds the pipeline (a consumer of the group by default)."""
        consumer = consumer or make_consumer(self.settings, group_id=self.settings.group_id)
        return ConsumerLoop(
            consumer,
            self.pipeline,
            self.topics,
            self.settings,
            self.retry,
            metrics=self.metrics,
            health=self.health,
        )

    async def readiness(self) -> dict[str, str]:
        """Each dependency's answer (`ok`, or why not), within `readiness_timeout_s` each; the
        consumer's assignment when this process consumes (contract 10: `/readyz`)."""
        checks: dict[str, Callable[[], Awaitable[None]]] = {
            "mongodb": self.stores.maintenance.ping,
            "kafka": self.publisher.reachable,
        }
        answers = {}
        for name, check in checks.items():
            try:
                async with asyncio.timeout(self.settings.readiness_timeout_s):
                    await check()
                answers[name] = "ok"
            except (BatchServiceError, TimeoutError) as exc:
                answers[name] = f"unavailable: {type(exc).__name__}"
        if self.health.needs_partitions:
            answers["partitions"] = "assigned" if self.health.assigned else "not assigned yet"
        return answers


def retry_policy(
    settings: Settings,
    stop: asyncio.Event | None = None,
    metrics: Metrics | None = None,
    health: Health | None = None,
) -> RetryPolicy:
    """The one retry policy of a process: transient errors retried, logged (and counted, and
    taken as a sign of life: waiting for a dependency is not being stuck), then given up."""

    def on_retry(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning("retrying", attempt=state.attempt_number, error=repr(error))
        if metrics is not None:
            metrics.retries.labels(type(error).__name__).inc()
        if health is not None:
            health.beat()

    return RetryPolicy(
        settings.retry_max_elapsed_s, settings.retry_backoff_max_s, stop, on_retry=on_retry
    )


def open_mongo_store(
    settings: Settings, db_name: str | None = None, metrics: Metrics | None = None
) -> MongoStore:
    """The MongoDB store of `db_name` (default: the service's database), every knob applied;
    its commands counted and timed into `metrics` when given."""
    listeners = [MongoCommandMetrics(metrics)] if metrics is not None else []
    return MongoStore.connect(
        settings.mongodb_uri,
        db_name or settings.db,
        timeout_ms=settings.mongo_timeout_ms,
        bulk_chunk=settings.mongo_bulk_chunk,
        write_concurrency=settings.mongo_write_concurrency,
        cache_size=settings.document_cache_size,
        pack_facts=settings.store_facts_packed,
        event_listeners=listeners,
        **settings.mongo_client_options(),
    )


def sdk_publisher(settings: Settings, *, source: str) -> BatchEventPublisher:
    """The publisher SDK with the service's connection settings and topic prefix (`publish`,
    and the HTTP API's commands, send through it: the same validation as any publisher)."""
    return BatchEventPublisher(settings, source=source)


def make_consumer(settings: Settings, *, group_id: str | None) -> AIOKafkaConsumer:
    """A consumer with the service's connection, fetch and group settings; `group_id=None`
    reads without a group (replays: they never move the service's offsets)."""
    group = {}
    if group_id is not None:
        group = {
            "group_id": group_id,
            "auto_offset_reset": "earliest",
            "session_timeout_ms": settings.session_timeout_ms,
            "heartbeat_interval_ms": settings.heartbeat_interval_ms,
            "max_poll_interval_ms": settings.max_poll_interval_ms,
        }
    return AIOKafkaConsumer(
        **kafka_client_options(settings),
        client_id="batch-service",
        enable_auto_commit=False,
        max_partition_fetch_bytes=settings.fetch_partition_bytes,
        fetch_max_bytes=settings.fetch_max_bytes,
        metadata_max_age_ms=settings.metadata_max_age_ms,
        **group,
    )


@asynccontextmanager
async def bootstrap(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    db_name: str | None = None,
    stores: Stores | None = None,
    publisher: EventPublisher | None = None,
    retry: RetryPolicy | None = None,
    clock: Clock | None = None,
) -> AsyncIterator[Service]:
    """Connect what is not given (MongoDB with its indexes, the topics, the Kafka producer),
    wire it, and close it all on exit. Connecting is retried like any transient error."""
    metrics, health = Metrics(), Health(settings.liveness_timeout_s)
    retry = retry or retry_policy(settings, stop, metrics, health)
    topics = Topics(settings.topic_prefix)
    async with AsyncExitStack() as closing:
        if stores is None:
            mongo = await closing.enter_async_context(open_mongo_store(settings, db_name, metrics))
            await retry.run(mongo.create_indexes)
            stores = mongo.stores()
        if publisher is None:
            publisher = await closing.enter_async_context(_kafka_publisher(settings, topics, retry))
        clock = clock or SystemClock()
        pipeline = Pipeline(
            stores,
            publisher,
            clock=clock,
            observer=MetricsObserver(metrics),
            auto_cancel_grace_s=settings.auto_cancel_grace_s,
            ack_delay_s=settings.outbox_ack_delay_s,
            relay_min_age_s=settings.relay_min_age_s,
        )
        yield Service(settings, topics, stores, publisher, pipeline, retry, clock, metrics, health)


@asynccontextmanager
async def _kafka_publisher(
    settings: Settings, topics: Topics, retry: RetryPolicy
) -> AsyncIterator[KafkaPublisher]:
    """The producer, once the topics exist (created where allowed); stopped on exit."""
    if settings.create_topics:
        created = await retry.run(lambda: ensure_topics(settings, topics))
        if created:
            log.info("topics_created", topics=created)
    kafka = KafkaPublisher(settings, topics)
    await retry.run(kafka.start)
    try:
        yield kafka
    finally:
        await kafka.stop()
