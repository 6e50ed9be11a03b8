"""Under a backlog, the consumer loop's polls are slices of record time across partitions.

A learner's facts reach several topics at about the same time (enrolments keyed by batch,
progress by user), and Kafka hands partitions over at different speeds. A poll cut at a
common record time holds every fact of a learner of that time, so the learner is written
once; a poll that ran ahead on one partition would write the learner again in the next
poll. Checked against the real broker: dense and sparse partitions, tiny fetches.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer

from consumers.bootstrap import bootstrap, make_consumer
from services.ports import Received
from services.settings import Settings
from services.storage import InMemoryStore
from testkit.fakes import RecordingPublisher
from testkit.harness import create_topic

BASE_MS = 1_790_000_000_000
DENSE, SPARSE = 1_500, 150  # records per partition of each topic, over the same time span


async def _publish(kafka: str, dense: str, sparse: str) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=kafka, linger_ms=5)
    await producer.start()
    try:
        sent = []
        for partition in range(3):
            for i in range(DENSE):
                ts = BASE_MS + i * 10
                sent.append(await producer.send(dense, b"x", partition=partition, timestamp_ms=ts))
            for i in range(SPARSE):
                ts = BASE_MS + i * 100
                sent.append(await producer.send(sparse, b"x", partition=partition, timestamp_ms=ts))
        await asyncio.gather(*sent)
        return len(sent)
    finally:
        await producer.stop()


async def test_polls_under_a_backlog_are_slices_of_record_time(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = Settings(
        kafka_bootstrap=kafka_bootstrap,
        topic_prefix=topic_prefix,
        group_id=f"{topic_prefix}group",
        create_topics=False,
        poll_max_records=200,
        poll_backlog_records=1_000,
        poll_timeout_ms=2_000,  # patient: every partition is fetched before a cut
        fetch_partition_bytes=4_096,  # a few dozen records per partition per fetch
        recount_interval_s=3600,
        relay_interval_s=3600,
        status_refresh_s=3600,
    )
    store = InMemoryStore()
    async with bootstrap(settings, stores=store.stores(), publisher=RecordingPublisher()) as w:
        dense, sparse = w.topics.of_type("content.progress"), w.topics.of_type("enrolment.created")
        for topic in w.topics.inbound:
            await create_topic(kafka_bootstrap, topic, partitions=3)
        total = await _publish(kafka_bootstrap, dense, sparse)
        polls: list[list[Received]] = []
        handle, all_taken = w.pipeline.handle, asyncio.Event()

        async def recording(received: Sequence[Received]) -> Any:
            polls.append(list(received))
            if sum(map(len, polls)) >= total:
                all_taken.set()
            return await handle(received)

        w.pipeline.handle = recording  # type: ignore[method-assign]
        stop = asyncio.Event()
        loop = w.consumer_loop(make_consumer(settings, group_id=settings.group_id))
        await loop.start()
        task = asyncio.create_task(loop.run(stop))
        try:
            await asyncio.wait_for(all_taken.wait(), 120)
        finally:
            stop.set()
            await task
            await loop.stop()

    taken = [(r.topic, r.partition, r.offset) for poll in polls for r in poll]
    assert len(taken) == len(set(taken)) == total, "every record once, none skipped"
    assert len(polls) > 5, "tiny fetches: many polls"
    for before, after in itertools.pairwise(polls):
        latest = max(r.timestamp_ms or 0 for r in before)
        earliest = min(r.timestamp_ms or 0 for r in after)
        assert earliest > latest, (
            f"a poll went up to {latest - BASE_MS} ms, the next began at {earliest - BASE_MS} ms",
            sorted({(r.topic[-15:], r.partition) for r in before}),
        )
