"""Kafka publishing: certificate events and dead letters, through one idempotent producer."""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Self

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError, RecordTooLargeError
from opentelemetry import context as otel_context
from opentelemetry import propagate

from schemas.events import BatchCancelled
from schemas.outbound import TRACEPARENT, Announcement, CertificateEligible, DlqHeader
from schemas.topics import Topics
from services.errors import KafkaUnavailable, PublishUnavailable
from services.ports import DeadLetter
from services.settings import Settings
from telemetry import kafka_sends_traced

__all__ = [
    "DLQ_HEADROOM_BYTES",
    "AsyncLifecycle",
    "KafkaPublisher",
    "kafka_client_options",
    "kafka_errors",
]

_MAX_REASON = 1000
# A dead letter is the original value plus headers: room for them above the largest value.
DLQ_HEADROOM_BYTES = 65_536
# W3C trace context: version, trace id, parent id, flags (all-zero ids are invalid).
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$")


def kafka_client_options(settings: Settings) -> dict[str, Any]:
    """Connection options shared by every Kafka client of the service (TLS, SASL)."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": settings.kafka_security_protocol,
        "request_timeout_ms": settings.kafka_request_timeout_ms,
    }
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        from aiokafka.helpers import create_ssl_context

        options["ssl_context"] = create_ssl_context(cafile=settings.kafka_ssl_cafile)
    if settings.kafka_sasl_mechanism:
        password = settings.kafka_sasl_password
        options |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_sasl_username,
            "sasl_plain_password": password.get_secret_value() if password else None,
        }
    return options


@asynccontextmanager
async def kafka_errors(
    unavailable: type[KafkaUnavailable] = PublishUnavailable,
) -> AsyncIterator[None]:
    """The Kafka adapter's translator: aiokafka's retriable errors (and timeouts, lost
    connections) become `unavailable`, which is retried; the others propagate."""
    try:
        yield
    except KafkaError as exc:
        if getattr(exc, "retriable", False) or exc.__class__.__name__.endswith("TimeoutError"):
            raise unavailable(repr(exc)) from exc
        raise
    except (TimeoutError, ConnectionError, OSError) as exc:
        raise unavailable(repr(exc)) from exc


class AsyncLifecycle:
    """`async with component:` starts it and stops it, whatever happens inside."""

    async def start(self) -> None:
        """Connect."""
        raise NotImplementedError

    async def stop(self) -> None:
        """Flush and disconnect."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


class KafkaPublisher(AsyncLifecycle):
    """Publishes with acks=all and idempotence; each call returns once every message is acked."""

    def __init__(self, settings: Settings, topics: Topics) -> None:
        self._topics = topics
        self._producer = AIOKafkaProducer(
            **kafka_client_options(settings),
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            max_request_size=settings.max_request_bytes + DLQ_HEADROOM_BYTES,
            client_id="batch-service",
        )
        # The idempotent producer retries a send for ever (its batches never expire): each call
        # is bounded here instead, so an unreachable cluster becomes a retried, logged error.
        self._timeout_s = settings.kafka_request_timeout_ms / 1000

    async def start(self) -> None:
        """Connect to the cluster."""
        async with kafka_errors():
            await self._producer.start()

    async def stop(self) -> None:
        """Flush and disconnect."""
        await self._producer.stop()

    async def announce(
        self, events: Sequence[Announcement], traces: Mapping[str, str] | None = None
    ) -> None:
        """Announcements keyed by userId: `certificate.eligible` to the certificate topic,
        `enrolment.*` to the enrolment-status topic. An event decided by a fact that carried a
        `traceparent` carries it on: as is, or (tracing on) as the parent of its send span."""
        traces = traces or {}
        await self._send_all(self._send_announcement(e, traces.get(e.id)) for e in events)

    async def _send_announcement(self, event: Announcement, traceparent: str | None) -> Any:
        topic = (
            self._topics.certificates
            if isinstance(event, CertificateEligible)
            else self._topics.enrolment_status
        )
        send = functools.partial(
            self._producer.send,
            topic,
            value=event.model_dump_json().encode(),
            key=event.data.userId.encode(),
        )
        if traceparent is None or not _TRACEPARENT.match(traceparent):
            return await send()
        if not kafka_sends_traced():
            return await send(headers=[(TRACEPARENT, traceparent.encode())])
        parent = propagate.extract({TRACEPARENT: traceparent})
        token = otel_context.attach(parent)  # the instrumented send injects its child span
        try:
            return await send(headers=[])
        finally:
            otel_context.detach(token)

    async def reachable(self) -> None:
        """Raises `PublishUnavailable` unless the cluster answers a metadata request
        (readiness). aiokafka says that no broker answered with a plain, non-retriable
        `KafkaError`: for this question it means unreachable, like any other Kafka error."""
        try:
            async with kafka_errors(), asyncio.timeout(self._timeout_s):
                await self._producer.client.fetch_all_metadata()
        except KafkaError as exc:
            raise PublishUnavailable(repr(exc)) from exc

    async def publish_fact(self, event: BatchCancelled) -> None:
        """A fact of the service's own (the automatic cancellation) to `lms.batch.v1`, keyed
        by batchId like any publisher's."""
        await self.send_raw(
            self._topics.batch,
            event.model_dump_json(exclude_unset=True).encode(),
            event.data.batchId.encode(),
        )

    async def dead_letter(self, letters: Sequence[DeadLetter]) -> None:
        """The original key and value, unchanged, with headers naming source and reason.

        A value that cannot be sent at any size the topic takes is sent without its value (a
        `dlq-value-omitted` header gives its size) rather than block the partition for ever.
        """
        async with kafka_errors(), asyncio.timeout(self._timeout_s):
            futures = [await self._send_letter(letter) for letter in letters]
            await asyncio.gather(*futures)

    async def _send_letter(self, letter: DeadLetter, omit_value: bool = False) -> Any:
        headers = _dlq_headers(letter)
        value = letter.source.value
        if omit_value:
            headers.append(("dlq-value-omitted", str(len(value or b"")).encode()))
            value = None
        try:
            future = await self._producer.send(
                self._topics.dlq, value=value, key=letter.source.key, headers=headers
            )
        except (MessageSizeTooLargeError, RecordTooLargeError):
            if omit_value:
                raise
            return await self._send_letter(letter, omit_value=True)
        if omit_value:
            return future
        return asyncio.ensure_future(self._without_value_if_too_large(future, letter))

    async def _without_value_if_too_large(self, sent: Awaitable[Any], letter: DeadLetter) -> Any:
        try:
            return await sent
        except (MessageSizeTooLargeError, RecordTooLargeError):  # the broker said no
            return await (await self._send_letter(letter, omit_value=True))

    async def send_raw(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        """One message to any topic, acknowledged (the publisher SDK and tests use it)."""
        await self._send_all([self._producer.send(topic, value=value, key=key, headers=headers)])

    async def _send_all(self, sends: Any) -> None:
        async with kafka_errors(), asyncio.timeout(self._timeout_s):
            futures: list[Awaitable[Any]] = [await send for send in sends]
            await asyncio.gather(*futures)


def _dlq_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    source = letter.source
    headers = [
        *[(k, v) for k, v in source.headers if not k.startswith("dlq-")],
        (DlqHeader.SOURCE_TOPIC, source.topic.encode()),
        (DlqHeader.SOURCE_PARTITION, str(source.partition).encode()),
        (DlqHeader.SOURCE_OFFSET, str(source.offset).encode()),
        (DlqHeader.REASON, letter.reason[:_MAX_REASON].encode()),
    ]
    if letter.event_id:
        headers.append((DlqHeader.EVENT_ID, letter.event_id.encode()))
    headers += [(k, v.encode()) for k, v in letter.extra.items()]
    return headers
