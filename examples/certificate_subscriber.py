"""A subscriber of `lms.certificate-eligibility.v1`: the loop a certificate service would run.

    BATCH_SERVICE_KAFKA_BOOTSTRAP=localhost:9092 python -m examples.certificate_subscriber

Delivery is at least once: after a crash or a rebalance the batch service may announce an
eligibility again, and this subscriber may re-read events it handled but had not committed.
Both repeats carry the same `id`, so deduplicating on `id` makes handling exactly-once.
"""

from __future__ import annotations

import asyncio
import os
import signal

from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from schemas.outbound import CertificateEligible
from schemas.topics import Topics


def issue_certificate(event: CertificateEligible) -> None:
    """Where a real service renders and sends the certificate."""
    data = event.data
    print(f"issue {data.templateId} to {data.userId} for batch {data.batchId} (id {event.id})")


async def subscribe(bootstrap: str, prefix: str, group_id: str, stop: asyncio.Event) -> None:
    """Handle certificate events until `stop` is set, committing only what was handled."""
    consumer = AIOKafkaConsumer(
        Topics(prefix).certificates,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        # A new subscriber owes a certificate for every eligibility ever announced.
        auto_offset_reset="earliest",
        # Committing before handling could lose an event in a crash: commit after instead.
        enable_auto_commit=False,
    )
    # In memory, this forgets across restarts. In production keep the handled ids where the
    # certificates are recorded, in the same write (a unique index on the id), so that
    # "issued" and "seen" can never disagree.
    handled: set[str] = set()
    await consumer.start()
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    try:
                        event = CertificateEligible.model_validate_json(record.value or b"")
                    except ValidationError as exc:
                        # Skipping (not stopping) keeps one bad message from blocking all others.
                        print(f"skipped offset {record.offset}: {exc.error_count()} errors")
                        continue
                    if event.id not in handled:
                        issue_certificate(event)
                        handled.add(event.id)
            if batches:
                await consumer.commit()
    finally:
        await consumer.stop()


async def main() -> None:
    """Run until Ctrl-C or SIGTERM, then commit and leave the group cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await subscribe(
        bootstrap=os.environ.get("BATCH_SERVICE_KAFKA_BOOTSTRAP", "localhost:9092"),
        prefix=os.environ.get("BATCH_SERVICE_TOPIC_PREFIX", ""),
        group_id=os.environ.get("CERTIFICATE_GROUP_ID", "certificate-service"),
        stop=stop,
    )


if __name__ == "__main__":
    asyncio.run(main())
