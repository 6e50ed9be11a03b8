"""The offset commit's translator: what a lost membership looks like, and what is retried."""

from __future__ import annotations

import pytest
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaConnectionError

from consumers.rebalance import commit_errors
from services.errors import CommitLostToRebalance, CommitUnavailable


@pytest.mark.parametrize(
    "error",
    [
        CommitFailedError("membership changed"),
        # aiokafka forgot the assignment while a poll was in hand (the member was dropped from
        # the group during a broker outage): the soak saw an instance exit on it.
        IllegalStateError("Partition TopicPartition(topic='t', partition=1) is not assigned"),
        IllegalStateError("No partitions assigned"),
    ],
)
async def test_a_commit_after_the_partitions_moved_is_lost_to_the_rebalance(
    error: Exception,
) -> None:
    with pytest.raises(CommitLostToRebalance):
        async with commit_errors():
            raise error


async def test_a_broker_away_is_retried_and_a_programming_error_is_not() -> None:
    with pytest.raises(CommitUnavailable):
        async with commit_errors():
            raise KafkaConnectionError("connection refused")
    with pytest.raises(IllegalStateError):
        async with commit_errors():
            raise IllegalStateError("Not subscribed to any topics")
