"""Figure: eligibility latency at a steady load (produce of a fact -> certificate arrival).

A steady producer sends facts at `rate` per second, remembering for each learner when its
latest fact was sent. A consumer of the certificate topic takes each certificate's arrival
time minus the send time of that learner's latest fact sent before the arrival (the fact that
completed the learner, or one after it: the figure can only err on the low side by the gap
between a learner's last two facts, which the windowed workload keeps small).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer

from bench.kafka_io import new_producer
from bench.workload import Message
from schemas.documents import enrolment_key

__all__ = ["LatencyRun", "percentile", "steady_load"]

_TICK_S = 0.05


@dataclass
class LatencyRun:
    """Latencies in seconds, one per certificate id (first arrival)."""

    rate: float
    sent: int
    seconds: float
    latencies: list[float] = field(default_factory=list)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


async def steady_load(
    kafka: str,
    prefix: str,
    cert_topic: str,
    facts: Sequence[Message],
    rate: float,
    drain_s: float = 20.0,
) -> LatencyRun:
    """Send `facts` at `rate`/s (rules must already be in place); collect certificate latencies."""
    last_sent: dict[str, float] = {}
    seen: set[str] = set()
    run = LatencyRun(rate=rate, sent=0, seconds=0.0)
    consumer = AIOKafkaConsumer(
        cert_topic, bootstrap_servers=kafka, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    done = asyncio.Event()

    async def consume() -> None:
        quiet_until: float | None = None
        while True:
            batch = await consumer.getmany(timeout_ms=100)
            now = time.monotonic()
            for records in batch.values():
                for record in records:
                    event = json.loads(record.value)
                    if event["id"] in seen:
                        continue
                    seen.add(event["id"])
                    data = event["data"]
                    sent_at = last_sent.get(enrolment_key(data["batchId"], data["userId"]))
                    if sent_at is not None:
                        run.latencies.append(now - sent_at)
            if done.is_set():
                quiet_until = quiet_until or now + drain_s
                if batch:
                    quiet_until = max(quiet_until, now + 3.0)
                if now > quiet_until:
                    return

    producer = new_producer(kafka)
    await producer.start()
    reader = asyncio.create_task(consume())
    try:
        started = time.monotonic()
        for i, message in enumerate(facts):
            due = started + i / rate
            delay = due - time.monotonic()
            if delay > _TICK_S:
                await asyncio.sleep(delay)
            await producer.send(prefix + message.topic, message.value, key=message.key)
            if message.learner is not None:
                last_sent[message.learner] = time.monotonic()
            run.sent += 1
        await producer.flush()
        run.seconds = time.monotonic() - started
        done.set()
        await reader
    finally:
        reader.cancel()
        await producer.stop()
        await consumer.stop()
    return run
