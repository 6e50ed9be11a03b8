"""Group membership seen from the loop: partitions are given up only after the batch in hand
is committed, and a commit the group no longer takes is "lost to a rebalance", not an error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka.errors import (
    CommitFailedError,
    IllegalGenerationError,
    IllegalStateError,
    KafkaError,
    RebalanceInProgressError,
)

from consumers.lag import LagGauge
from consumers.topic_watch import report_offsets_beyond_end
from producers.kafka import kafka_errors
from services.errors import CommitLostToRebalance, CommitUnavailable

__all__ = ["WaitForBatchInHand", "commit_errors"]

log = structlog.get_logger("batch_service.consumer")
_LOST_GENERATION = (CommitFailedError, IllegalGenerationError, RebalanceInProgressError)


@asynccontextmanager
async def commit_errors() -> AsyncIterator[None]:
    """The offset commit's translator: a lost generation is final, other trouble as any
    Kafka trouble (transient: retried)."""
    async with kafka_errors(CommitUnavailable):
        try:
            yield
        except _LOST_GENERATION as exc:
            raise CommitLostToRebalance(repr(exc)) from exc
        except IllegalStateError as exc:
            # The member was dropped from the group while the poll was in hand (a broker away
            # longer than the session timeout; the soak saw it): aiokafka forgot the assignment.
            if "assigned" not in str(exc):
                raise
            raise CommitLostToRebalance(repr(exc)) from exc


class WaitForBatchInHand(ConsumerRebalanceListener):
    """Partitions are given up only after the batch in hand is persisted and committed."""

    def __init__(self, lock: asyncio.Lock, consumer: AIOKafkaConsumer, lag: LagGauge) -> None:
        self._lock = lock
        self._consumer = consumer
        self._lag = lag

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self._lock:
            log.info("partitions_revoked", partitions=_names(revoked))
            self._lag.forget(revoked)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        log.info("partitions_assigned", partitions=_names(assigned))
        self._lag.assigned(assigned)
        try:
            await report_offsets_beyond_end(self._consumer, assigned)
        except (KafkaError, OSError) as exc:  # only a report: the reset happens regardless
            log.warning("offsets_check_failed", error=repr(exc))


def _names(partitions: Any) -> list[str]:
    return sorted(f"{tp.topic}:{tp.partition}" for tp in partitions)
