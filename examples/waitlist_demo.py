"""The demo's second scene: a workshop with three seats and a waitlist (contract 7).

Five learners ask for a seat; three get one and two wait. Two of the seated then leave, and
the two waiting are seated in order. Every `enrolment.*` event is printed as it arrives on
`lms.enrolment-status.v1`.
"""

from __future__ import annotations

import json
import time as clock
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer

from producers.kafka import kafka_client_options
from producers.sdk import BatchEventPublisher
from schemas.topics import Topics
from services.settings import Settings

__all__ = ["waitlist_scene"]

SEATS = 3
LEARNERS = ["ada", "grace", "alan", "edsger", "barbara"]
LEAVING = ["grace", "alan"]


async def waitlist_scene(sdk: BatchEventPublisher, settings: Settings, tag: str) -> bool:
    """Play the scene; True when the waitlist moved as it should."""
    batch_id = f"{tag}-workshop"
    opened = datetime(2026, 8, 20, tzinfo=UTC)
    await sdk.course_published(f"{tag}-workshop-course", ["session-1"], [], time=opened)
    await sdk.batch_created(
        batch_id,
        f"{tag}-workshop-course",
        "Saturday workshop",
        start_date="2026-09-05",
        end_date="2026-09-05",
        maximum_capacity=SEATS,
        allow_waitlisting=True,
        time=opened,
    )
    print(f"\nwaitlist: '{batch_id}' has {SEATS} seats; {len(LEARNERS)} learners ask for one")
    watcher = _StatusWatcher(settings, batch_id)
    await watcher.start()
    try:
        for n, user in enumerate(LEARNERS):
            await sdk.enrolment_created(batch_id, user, time=opened + timedelta(hours=n + 1))
        first = await watcher.until({"seated": 3, "waitlisted": 2})
        print(f"waitlist: {', '.join(LEAVING)} leave")
        for user in LEAVING:
            await sdk.enrolment_cancelled(batch_id, user, time=opened + timedelta(days=2))
        second = await watcher.until({"seated": 5, "waitlisted": 2})
    finally:
        await watcher.stop()
    promoted = [u for u, s in watcher.seen if s == "seated"][3:]
    moved = first and second and promoted == ["edsger", "barbara"]
    print(
        f"waitlist: {'the first two waiting were seated, in order' if moved else 'NOT as expected'}"
    )
    return moved


class _StatusWatcher:
    """Prints the batch's `enrolment.*` events as they arrive and counts them by status."""

    def __init__(self, settings: Settings, batch_id: str) -> None:
        self._batch_id = batch_id
        self._consumer = AIOKafkaConsumer(
            Topics(settings.topic_prefix).enrolment_status,
            **kafka_client_options(settings),
            auto_offset_reset="latest",
            enable_auto_commit=False,
        )
        self.seen: list[tuple[str, str]] = []

    async def start(self) -> None:
        await self._consumer.start()
        await self._consumer.seek_to_end()

    async def stop(self) -> None:
        await self._consumer.stop()

    async def until(self, counts: dict[str, int], timeout_s: float = 60) -> bool:
        deadline = clock.monotonic() + timeout_s
        while clock.monotonic() < deadline:
            for records in (await self._consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    self._show(json.loads(record.value))
            if all(sum(s == k for _, s in self.seen) >= n for k, n in counts.items()):
                return True
        return False

    def _show(self, event: dict[str, Any]) -> None:
        data = event["data"]
        if data["batchId"] != self._batch_id:
            return
        self.seen.append((data["userId"], data["status"]))
        place = f" (place {data['waitlistPosition']})" if data["waitlistPosition"] else ""
        print(f"{event['type']:<22} {data['userId']:<10}{place}")
