"""Smoke tests: the suite's servers are real, separate processes and do what the service relies on.

Offsets committed by a consumer group survive the consumer, values of 10 MB pass, a unique
compound index rejects duplicates, and odd `_id` strings come back unchanged.
"""

from __future__ import annotations

import asyncio
import os
import socket

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError
from pymongo.uri_parser import parse_uri

from devstack import LocalStack
from devstack.procs import cmdline

WAIT_S = 30.0
BIG = 16 * 1024 * 1024


async def _create_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()


def _consumer(bootstrap: str, topic: str, group: str, **extra: int) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **extra,
    )


async def test_kafka_group_commit_and_resume(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic, group = f"{topic_prefix}smoke", f"{topic_prefix}group"
    tp = TopicPartition(topic, 0)
    await _create_topic(kafka_bootstrap, topic)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, b"first", key=b"k1", partition=0)

        consumer = _consumer(kafka_bootstrap, topic, group)
        await consumer.start()
        try:
            got = await asyncio.wait_for(consumer.getone(), WAIT_S)
            assert (got.value, got.key, got.offset) == (b"first", b"k1", sent.offset)
            await consumer.commit()
            assert await consumer.committed(tp) == got.offset + 1
        finally:
            await consumer.stop()

        later = await producer.send_and_wait(topic, b"second", partition=0)
        # A new member of the same group resumes after the committed offset, not from the start.
        resumed = _consumer(kafka_bootstrap, topic, group)
        await resumed.start()
        try:
            nxt = await asyncio.wait_for(resumed.getone(), WAIT_S)
            assert (nxt.value, nxt.offset) == (b"second", later.offset)
            assert nxt.offset == got.offset + 1
        finally:
            await resumed.stop()
    finally:
        await producer.stop()


async def test_kafka_carries_10mb_values(kafka_bootstrap: str, topic_prefix: str) -> None:
    # No explicit topic: the dead-letter topic may be created by the first send.
    topic = f"{topic_prefix}dead-letter"
    value = os.urandom(10 * 1024 * 1024)  # random bytes: no compression can shrink them
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, max_request_size=BIG)
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, value)
    finally:
        await producer.stop()
    consumer = _consumer(
        kafka_bootstrap,
        topic,
        f"{topic_prefix}group",
        fetch_max_bytes=BIG,
        max_partition_fetch_bytes=BIG,
    )
    await consumer.start()
    try:
        got = await asyncio.wait_for(consumer.getone(), WAIT_S)
        assert (got.partition, got.offset) == (sent.partition, sent.offset)
        assert got.value == value
    finally:
        await consumer.stop()


ODD_IDS = [
    "price$usd",
    "$starts-with-dollar",
    "dotted.id.value",
    "with space",
    " padded . $ ",
    "ünïcödé-日本語-✓",
]


async def test_mongo_roundtrip_unique_index_and_odd_ids(
    mongodb_uri: str, mongo_db_name: str
) -> None:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        mongodb_uri, serverSelectionTimeoutMS=10_000
    )
    try:
        db = client[mongo_db_name]
        docs = db["smoke"]
        original = {"_id": "doc-1", "batch": "b-1", "learner": "l-1", "score": 7}
        await docs.insert_one(dict(original))
        assert await docs.find_one({"_id": "doc-1"}) == original

        await docs.create_index([("batch", 1), ("learner", 1)], unique=True, name="batch_learner")
        with pytest.raises(DuplicateKeyError):
            await docs.insert_one({"_id": "doc-2", "batch": "b-1", "learner": "l-1"})
        await docs.insert_one({"_id": "doc-3", "batch": "b-1", "learner": "l-2"})
        assert await docs.count_documents({}) == 2

        ids = db["ids"]
        await ids.insert_many([{"_id": odd, "n": n} for n, odd in enumerate(ODD_IDS)])
        stored = {doc["_id"]: doc["n"] async for doc in ids.find({})}
        assert stored == {odd: n for n, odd in enumerate(ODD_IDS)}
        for odd in ODD_IDS:
            found = await ids.find_one({"_id": odd})
            assert found is not None and found["_id"] == odd
    finally:
        await client.close()


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=5):
            return True
    except OSError:
        return False


def test_servers_are_external_processes(
    stack: LocalStack | None, kafka_bootstrap: str, mongodb_uri: str
) -> None:
    kafka_host, _, kafka_port = kafka_bootstrap.split(",")[0].rpartition(":")
    mongo_host, mongo_port = parse_uri(mongodb_uri)["nodelist"][0]
    assert _answers(kafka_host, int(kafka_port)), kafka_bootstrap
    assert _answers(mongo_host, int(mongo_port)), mongodb_uri
    if stack is None:
        return  # servers from env vars or containers: answering is all we can check
    pids = stack.pids()
    for key, marker in (("kafka", "kafka.Kafka"), ("mongo", "ferretdb")):
        pid = pids[key]
        assert pid is not None, f"{key} is not running"
        assert pid != os.getpid()
        assert marker in cmdline(pid), cmdline(pid)
