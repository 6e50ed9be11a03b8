"""Every fault scenario by name (`make faults --only NAME`)."""

from __future__ import annotations

from faults.api import api_outage
from faults.hostile import hostile_input, near_limit_input
from faults.network import net_half_open, net_kafka_cut, net_latency, net_mongo_cut
from faults.processes import (
    broker_down_after_save,
    group_changes,
    kafka_restart,
    mongo_restart,
    retry_exhausted,
    sigkill,
    slow_consumer,
)
from faults.runner import Scenario
from faults.seats import waitlists
from faults.topics import cluster_move, topic_recreated

__all__ = ["SCENARIOS"]

SCENARIOS: dict[str, Scenario] = {
    "sigkill": sigkill,
    "kafka-restart": kafka_restart,
    "mongo-restart": mongo_restart,
    "group-changes": group_changes,
    "broker-down-after-save": broker_down_after_save,
    "slow-consumer": slow_consumer,
    "hostile-input": hostile_input,
    "retry-exhausted": retry_exhausted,
    "near-limit-input": near_limit_input,
    "topic-recreated": topic_recreated,
    "cluster-move": cluster_move,
    "waitlists": waitlists,
    "api-outage": api_outage,
    "net-kafka-cut": net_kafka_cut,
    "net-mongo-cut": net_mongo_cut,
    "net-latency": net_latency,
    "net-half-open": net_half_open,
}
