"""Creates the service's topics when they are missing (a knob turns it off)."""

from __future__ import annotations

from contextlib import suppress

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from producers.kafka import DLQ_HEADROOM_BYTES, kafka_client_options, kafka_errors
from schemas.topics import Topics
from services.errors import KafkaUnavailable
from services.settings import Settings

__all__ = ["ensure_topics", "partitions_of"]


async def ensure_topics(settings: Settings, topics: Topics) -> list[str]:
    """Create every inbound and outbound topic that does not exist; return those created."""
    admin = AIOKafkaAdminClient(**kafka_client_options(settings), client_id="batch-service-admin")
    async with kafka_errors(KafkaUnavailable):
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            wanted = [*topics.inbound, topics.certificates, topics.enrolment_status, topics.dlq]
            missing = [t for t in wanted if t not in existing]
            if missing:
                new = [
                    NewTopic(
                        name=t,
                        num_partitions=settings.topic_partitions,
                        replication_factor=settings.topic_replication,
                        topic_configs=_config(t, settings),
                    )
                    for t in missing
                ]
                with suppress(TopicAlreadyExistsError):  # another instance was first
                    await admin.create_topics(new)
            return missing
        finally:
            await admin.close()


def _config(topic: str, settings: Settings) -> dict[str, str]:
    # The dead-letter topic must take back any value the inbound topics accepted.
    return {"max.message.bytes": str(settings.max_request_bytes + DLQ_HEADROOM_BYTES)}


async def partitions_of(settings: Settings, topic_names: list[str]) -> list[TopicPartition]:
    """Every partition of these topics, as the cluster describes them now (missing: none)."""
    admin = AIOKafkaAdminClient(**kafka_client_options(settings), client_id="batch-service-admin")
    async with kafka_errors(KafkaUnavailable):
        await admin.start()
        try:
            described = await admin.describe_topics(topic_names)
        finally:
            await admin.close()
    return sorted(
        TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]
    )
