"""Network faults, fast (`python -m faults --only net-...` runs them in full, with a table).

toxiproxy sits between one running service process and its servers: Kafka cut (refused, then
reset) twice, MongoDB cut twice, seconds of latency on each, and half-open connections (no
data either way) for longer than the service's timeouts. The same process must ride each out
by itself, and the documents, certificate ids and statuses are checked exactly at the end.

They need the local stack (a second, Kafka-only cluster is started from its built jars, and
FerretDB is proxied) and toxiproxy-server, which `faults.netproxy` builds with `go install` on
first use. A stack, a proxy or a cluster that cannot be had fails the test: never a skip.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack import LocalStack
from faults.network import net_half_open, net_kafka_cut, net_latency, net_mongo_cut
from faults.runner import Ctx, RunResult, Scenario, new_env

SEED = 11


def _ctx(stack: LocalStack | None, kafka: str, mongo: str, log_dir: Path) -> Ctx:
    if stack is None:
        pytest.fail(
            "the network fault tests proxy the local stack's FerretDB and start a Kafka cluster "
            "from its jars, so they need the local stack (python -m devstack); this session's "
            "servers come from testcontainers or from BATCH_SERVICE_KAFKA_BOOTSTRAP / "
            "BATCH_SERVICE_MONGODB_URI that do not name a running local stack"
        )
    return Ctx(stack, kafka, mongo, log_dir, quick=True)


async def _run(
    scenario: Scenario,
    name: str,
    stack: LocalStack | None,
    kafka: str,
    mongo: str,
    topic_prefix: str,
    mongo_db_name: str,
    tmp_path: Path,
) -> None:
    """One scenario in quick mode; its result must be exact, with no problem noted."""
    ctx = _ctx(stack, kafka, mongo, tmp_path)
    result: RunResult = await scenario(ctx, new_env(ctx, name, topic_prefix, mongo_db_name), SEED)
    print(result.summary())
    assert result.faults == 2, f"not every fault was injected: {result.summary()}"
    assert result.ok, result.summary()


async def test_kafka_cut_twice_under_a_running_service(
    stack: LocalStack | None,
    kafka_bootstrap: str,
    mongodb_uri: str,
    topic_prefix: str,
    mongo_db_name: str,
    tmp_path: Path,
) -> None:
    await _run(
        net_kafka_cut,
        "kafka-cut",
        stack,
        kafka_bootstrap,
        mongodb_uri,
        topic_prefix,
        mongo_db_name,
        tmp_path,
    )


async def test_mongodb_cut_twice_under_a_running_service(
    stack: LocalStack | None,
    kafka_bootstrap: str,
    mongodb_uri: str,
    topic_prefix: str,
    mongo_db_name: str,
    tmp_path: Path,
) -> None:
    await _run(
        net_mongo_cut,
        "mongo-cut",
        stack,
        kafka_bootstrap,
        mongodb_uri,
        topic_prefix,
        mongo_db_name,
        tmp_path,
    )


async def test_seconds_of_latency_on_kafka_then_on_mongodb(
    stack: LocalStack | None,
    kafka_bootstrap: str,
    mongodb_uri: str,
    topic_prefix: str,
    mongo_db_name: str,
    tmp_path: Path,
) -> None:
    await _run(
        net_latency,
        "latency",
        stack,
        kafka_bootstrap,
        mongodb_uri,
        topic_prefix,
        mongo_db_name,
        tmp_path,
    )


async def test_half_open_connections_longer_than_the_timeouts(
    stack: LocalStack | None,
    kafka_bootstrap: str,
    mongodb_uri: str,
    topic_prefix: str,
    mongo_db_name: str,
    tmp_path: Path,
) -> None:
    await _run(
        net_half_open,
        "half-open",
        stack,
        kafka_bootstrap,
        mongodb_uri,
        topic_prefix,
        mongo_db_name,
        tmp_path,
    )
