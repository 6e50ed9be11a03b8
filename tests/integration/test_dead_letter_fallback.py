"""The last-resort dead letter: a value the dead-letter topic will not take is sent without
its value (a `dlq-value-omitted` header gives its size), so its partition is never stuck.

On a healthy deployment the topic's 64 KiB of headroom makes this unreachable; here the topic
is made beforehand with a small `max.message.bytes`, as an operator might have made it."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from producers.kafka import KafkaPublisher
from schemas.topics import Topics
from services.ports import DeadLetter, Received
from services.settings import Settings
from testkit.harness import read_all

TOPIC_LIMIT = 65_536
BIG = 300_000  # below max_event_bytes: a bad message the service must still dead-letter


async def test_a_value_the_dlq_refuses_is_dead_lettered_without_it(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topics = Topics(topic_prefix)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        small = NewTopic(topics.dlq, 1, 1, topic_configs={"max.message.bytes": str(TOPIC_LIMIT)})
        await admin.create_topics([small])
    finally:
        await admin.close()

    source_topic = topic_prefix + "lms.progress.v1"
    big = Received(source_topic, 2, 41, b"user-7", b"{" * BIG)
    small_one = Received(source_topic, 2, 42, b"user-8", b"not json")
    publisher = KafkaPublisher(Settings(kafka_bootstrap=kafka_bootstrap), topics)
    await publisher.start()
    try:
        await publisher.dead_letter([DeadLetter(big, "invalid-json"), DeadLetter(small_one, "x")])
    finally:
        await publisher.stop()

    records = {r.key: r for r in await read_all(kafka_bootstrap, topics.dlq)}
    assert set(records) == {b"user-7", b"user-8"}
    omitted, kept = records[b"user-7"], records[b"user-8"]
    headers = dict(omitted.headers)
    assert omitted.value is None
    assert headers["dlq-value-omitted"] == str(BIG).encode()
    assert headers["dlq-reason"] == b"invalid-json"
    assert headers["dlq-source-topic"] == source_topic.encode()
    assert (headers["dlq-source-partition"], headers["dlq-source-offset"]) == (b"2", b"41")
    assert kept.value == b"not json" and "dlq-value-omitted" not in dict(kept.headers)
