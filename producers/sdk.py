"""The publisher SDK: other Python services publish contract events with it.

Every event is validated against the contract's models *before* anything is sent, so a
publisher learns about a bad event from an exception in its own code, not from a dead letter
found later in `lms.dlq.v1`. What is validated is the exact bytes that are sent.

    async with BatchEventPublisher("localhost:9092", source="course-service") as publisher:
        await publisher.course_published("course-1", ["c1", "c2"], ["quiz-1"], name="Intro")
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer

from producers.kafka import AsyncLifecycle, kafka_client_options, kafka_errors
from producers.typed_events import ABSENT, Time, TypedEventMethods, wire_time
from producers.validation import InvalidEvent, PreparedEvent, prepare
from schemas.topics import Topics
from services.settings import Settings

__all__ = ["BatchEventPublisher", "InvalidEvent", "PreparedEvent", "Time"]


_DEFAULT_MAX_EVENT_BYTES = Settings.model_fields["max_event_bytes"].default


class BatchEventPublisher(TypedEventMethods, AsyncLifecycle):
    """Publishes contract events to their topics with their keys, acknowledged by the broker.

    `kafka` is a bootstrap address ("host:9092,host2:9092") or the service's `Settings` (TLS
    and SASL options, the topic prefix and `max_event_bytes` then come from it). The producer
    is idempotent with acks=all: a method returns the event id once every in-sync replica
    has the event. Broker trouble raises `PublishUnavailable` (retriable): resending the same
    event with the same `id` is safe, the service folds duplicates away.

    Every typed method builds its envelope and hands it to `publish`: a subclass may
    override `publish` to log or record what is sent.
    """

    def __init__(
        self,
        kafka: str | Settings = "localhost:9092",
        *,
        source: str,
        topic_prefix: str | None = None,
        client_id: str = "batch-event-publisher",
    ) -> None:
        if isinstance(kafka, Settings):
            self._options = kafka_client_options(kafka)
            prefix = kafka.topic_prefix if topic_prefix is None else topic_prefix
            self.max_event_bytes: int = kafka.max_event_bytes
        else:
            self._options = {"bootstrap_servers": kafka}
            prefix = topic_prefix or ""
            self.max_event_bytes = _DEFAULT_MAX_EVENT_BYTES
        self.source = source
        self.topics = Topics(prefix)
        self._client_id = client_id
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        """Connect to the cluster (the producer is made here, inside the running loop)."""
        producer = AIOKafkaProducer(
            **self._options,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            # Room for the record's framing around the largest value we accept.
            max_request_size=self.max_event_bytes + 65_536,
            client_id=self._client_id,
        )
        try:
            async with kafka_errors():
                await producer.start()
        except BaseException:
            await producer.stop()  # a half-started producer still holds sockets and tasks
            raise
        self._producer = producer

    async def stop(self) -> None:
        """Wait for what is in flight, then disconnect."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    # -- generic ---------------------------------------------------------------------------

    async def publish(self, event: Mapping[str, Any]) -> str:
        """Validate a complete envelope (`specversion`, `id`, `type`, `source`, `time`,
        `data`) and send it; returns its id. Raises `InvalidEvent`, sending nothing."""
        return (await self.publish_many([event]))[0]

    async def publish_many(self, events: Iterable[Mapping[str, Any]]) -> list[str]:
        """Validate every envelope first (one invalid: `InvalidEvent` naming its index, and
        nothing is sent), then send them in order; returns their ids once all are acked."""
        outgoing = []
        for index, event in enumerate(events):
            try:
                outgoing.append(self.validate(event))
            except InvalidEvent as exc:
                raise InvalidEvent(f"event {index}: {exc}") from exc
        await self._send(outgoing)
        return [o.event_id for o in outgoing]

    def validate(self, event: Mapping[str, Any]) -> PreparedEvent:
        """Check one envelope against the contract; `InvalidEvent` says why it fails."""
        return prepare(event, self.topics, self.max_event_bytes)

    async def _send(self, outgoing: Sequence[PreparedEvent]) -> None:
        if self._producer is None:
            raise RuntimeError("BatchEventPublisher is not started (use `async with` or start())")
        async with kafka_errors():
            # Queue all, then wait for all: order per partition holds (idempotent producer).
            acks = [await self._producer.send(o.topic, o.value, key=o.key) for o in outgoing]
            for ack in acks:
                await ack

    async def _emit(  # the typed methods build envelopes; this sends them
        self, event_type: str, data: dict[str, Any], id: str | None, time: Time | None
    ) -> str:
        envelope = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()) if id is None else id,
            "type": event_type,
            "source": self.source,
            "time": wire_time(time),
            "data": {k: v for k, v in data.items() if v is not ABSENT},
        }
        return await self.publish(envelope)
