"""Runs `batch-service run` as a real process and talks to the real servers around it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient

from schemas.topics import Topics
from services.storage.encoding import unpacked
from testkit.streams import key_of, topic_of

__all__ = [
    "Env",
    "ServiceProcess",
    "caught_up",
    "create_topic",
    "delete_topic",
    "http_address",
    "publish",
    "read_all",
    "read_docs",
    "run_cli",
]

BIN = Path(sys.executable).parent / "batch-service"


class Env:
    """The settings of one test's service instances (unique topics, group and database)."""

    def __init__(self, kafka: str, mongo: str, prefix: str, db: str, **extra: str) -> None:
        self.kafka, self.mongo, self.prefix, self.db = kafka, mongo, prefix, db
        self.group = f"{prefix}group"
        self.topics = Topics(prefix)
        self.extra = extra

    def as_environ(self) -> dict[str, str]:
        """The process environment for `batch-service`."""
        return {
            **os.environ,
            "BATCH_SERVICE_KAFKA_BOOTSTRAP": self.kafka,
            "BATCH_SERVICE_MONGODB_URI": self.mongo,
            "BATCH_SERVICE_DB": self.db,
            "BATCH_SERVICE_TOPIC_PREFIX": self.prefix,
            "BATCH_SERVICE_GROUP_ID": self.group,
            "BATCH_SERVICE_RETRY_BACKOFF_MAX_S": "1",
            "BATCH_SERVICE_HTTP_PORT": "0",  # several instances on one machine: free ports
            # A crash's leftovers relayed within seconds (the default waits a minute).
            "BATCH_SERVICE_OUTBOX_ACK_DELAY_S": "3",
            "BATCH_SERVICE_RELAY_MIN_AGE_S": "8",
            **self.extra,
        }


class ServiceProcess:
    """One `batch-service run` process with its log in a file."""

    def __init__(self, env: Env, log_dir: Path, name: str = "svc", command: str = "run") -> None:
        self.env = env
        self.command = command
        self.log_path = log_dir / f"{name}-{time.monotonic_ns()}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServiceProcess:
        """Start the process (returns at once)."""
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [str(BIN), self.command],
            env=self.env.as_environ(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        return self

    def log(self) -> str:
        """What the process wrote so far."""
        return self.log_path.read_text(errors="replace")

    async def wait_consuming(self, timeout_s: float = 60) -> None:
        """Until the process says it consumes (it has joined its group)."""
        deadline = time.monotonic() + timeout_s
        while '"partitions_assigned"' not in self.log():
            assert self.proc is not None and self.proc.poll() is None, self.log()[-3000:]
            assert time.monotonic() < deadline, "service did not start:\n" + self.log()[-3000:]
            await asyncio.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL: no chance to finish anything."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self._log.close()

    def terminate(self, timeout_s: float = 60) -> int:
        """SIGTERM and wait; returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout_s)
        self._log.close()
        return code


async def publish(
    kafka: str,
    prefix: str,
    events: Iterable[dict[str, Any]],
    raw: Iterable[tuple[str, bytes | None, bytes | None]] = (),
    headers: Mapping[str, list[tuple[str, bytes]]] | None = None,
) -> list[Any]:
    """Publish contract events (JSON dicts) on their topics with their keys (and `headers`,
    by event id), then raw messages given as (topic, key, value). Returns the broker's
    metadata of the raw messages."""
    headers = headers or {}
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka, acks="all", linger_ms=5, max_request_size=16_777_216
    )
    try:
        await producer.start()  # inside: a start that fails (Kafka away) is stopped too
        futures = [
            await producer.send(
                topic_of(e, prefix),
                json.dumps(e).encode(),
                key=key_of(e),
                headers=headers.get(e["id"]),
            )
            for e in events
        ]
        raw_futures = [await producer.send(t, v, key=k) for t, k, v in raw]
        await asyncio.gather(*futures)
        return list(await asyncio.gather(*raw_futures))
    finally:
        await producer.stop()


async def read_all(kafka: str, topic: str, timeout_s: float = 5) -> list[Any]:
    """Every record of a topic from the beginning (waits `timeout_s` for more to come)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=16_777_216,
        fetch_max_bytes=33_554_432,
    )
    await consumer.start()
    records: list[Any] = []
    try:
        quiet_until = time.monotonic() + timeout_s
        while time.monotonic() < quiet_until:
            batch = await consumer.getmany(timeout_ms=500)
            for recs in batch.values():
                records += recs
                quiet_until = time.monotonic() + 1.5
    finally:
        await consumer.stop()
    return records


async def caught_up(env: Env, timeout_s: float = 180) -> None:
    """Until the group has committed every inbound record that exists now."""
    admin = AIOKafkaAdminClient(bootstrap_servers=env.kafka)
    probe = AIOKafkaConsumer(bootstrap_servers=env.kafka, enable_auto_commit=False)
    await admin.start()
    await probe.start()
    try:
        described = await admin.describe_topics(list(env.topics.inbound))
        tps = [
            TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]
        ]
        assert len(tps) >= len(env.topics.inbound), f"inbound topics not found: {described}"
        ends = await probe.end_offsets(tps)
        deadline = time.monotonic() + timeout_s
        while True:
            committed = await admin.list_consumer_group_offsets(env.group)
            behind = {
                tp: end
                for tp, end in ends.items()
                if end and (tp not in committed or committed[tp].offset < end)
            }
            if not behind:
                return
            assert time.monotonic() < deadline, f"group still behind on {behind}"
            await asyncio.sleep(0.5)
    finally:
        await probe.stop()
        await admin.close()


async def read_docs(env: Env) -> dict[str, dict[str, dict[str, Any]]]:
    """Every document of the three collections, by `_id` (an enrolment's facts unpacked)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(env.mongo, tz_aware=True)
    try:
        db = client[env.db]
        return {
            name: {d["_id"]: unpacked(d) async for d in db[name].find({})}
            for name in ("batches", "courses", "enrolments")
        }
    finally:
        await client.close()


async def delete_topic(kafka: str, topic: str, timeout_s: float = 30) -> None:
    """Delete a topic and wait until the cluster no longer lists it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        await admin.delete_topics([topic])
        deadline = time.monotonic() + timeout_s
        while topic in await admin.list_topics():
            assert time.monotonic() < deadline, f"{topic} still listed after deletion"
            await asyncio.sleep(0.3)
    finally:
        await admin.close()


async def create_topic(kafka: str, topic: str, partitions: int = 3) -> None:
    """Create a topic (as an operator recreating it would)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


def http_address(service: ServiceProcess, timeout_s: float = 30) -> str:
    """The address a service process serves HTTP on (from its `http_listening` log line)."""
    deadline = time.monotonic() + timeout_s
    while True:
        for line in service.log().splitlines():
            if '"http_listening"' in line:
                return str(json.loads(line)["address"])
        assert service.proc is not None and service.proc.poll() is None, service.log()[-3000:]
        assert time.monotonic() < deadline, "no http_listening line:\n" + service.log()[-2000:]
        time.sleep(0.1)


async def run_cli(env: Env, *args: str, timeout_s: float = 120) -> tuple[int, str, str]:
    """`batch-service ARGS...` with the environment's settings: (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        str(BIN),
        *args,
        env=env.as_environ(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()
