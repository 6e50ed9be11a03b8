"""How far a consumer group got: committed records against end offsets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient

from bench.kafka_io import end_offsets

__all__ = ["Progress", "Watch", "wait_committed"]


Watch = Callable[[int, int, float], Awaitable[None]]  # committed, total, seconds


@dataclass
class Progress:
    """Records committed by the group out of those published, and when it stopped waiting."""

    committed: int
    total: int
    seconds: float

    @property
    def done(self) -> bool:
        return self.committed >= self.total


async def wait_committed(
    kafka: str,
    group: str,
    topics: list[str],
    started: float,
    budget_s: float,
    watch: Watch | None = None,
) -> Progress:
    """Until the group committed every record that exists now, or `budget_s` passed; `watch`
    sees every sample (four a second)."""
    ends = await end_offsets(kafka, topics)
    total = sum(ends.values())
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        while True:
            offsets = await admin.list_consumer_group_offsets(group)
            committed = sum(
                min(meta.offset, ends[tp]) for tp, meta in offsets.items() if tp in ends
            )
            now = time.perf_counter()
            if watch is not None:
                await watch(committed, total, now - started)
            if committed >= total or now - started > budget_s:
                return Progress(committed, total, now - started)
            await asyncio.sleep(0.25)
    finally:
        await admin.close()
