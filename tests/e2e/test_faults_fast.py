"""The fast subset of the fault suite (`python -m faults` runs them all, with a table).

Kafka stopped and restarted, FerretDB stopped and restarted, under a running service that must
wait, retry and resume without a restart; two instances of one group writing the same
documents, one of them SIGKILLed. Each ends with the documents and certificate ids checked
exactly against the pure fold.

The two-instance test relies on conditional writes being atomic: they are on MongoDB, and on
the local FerretDB because devstack installs `devstack/ferretdb/rev_guard.sql` into its
PostgreSQL (docs/design.md, "Concurrent writers").

These tests stop and start servers, so they need the local stack (`python -m devstack`).
Without one (servers from testcontainers, or addresses that are not the local stack's) they
fail with the reason: they are never skipped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from devstack import LocalStack
from faults.api import api_outage
from faults.processes import group_changes, kafka_restart, mongo_restart
from faults.runner import Ctx, RunResult, new_env

SEED = 7


def _ctx(stack: LocalStack | None, kafka: str, mongo: str, log_dir: Path) -> Ctx:
    if stack is None:
        pytest.fail(
            "the fault tests stop and start Kafka and FerretDB, so they need the local stack "
            "(python -m devstack); this session's servers come from testcontainers or from "
            "BATCH_SERVICE_KAFKA_BOOTSTRAP / BATCH_SERVICE_MONGODB_URI that do not name a "
            "running local stack (set DEVSTACK_DIR to it, or unset them)"
        )
    return Ctx(stack, kafka, mongo, log_dir, quick=True)


def _assert_ok(result: RunResult) -> None:
    print(result.summary())
    assert result.ok, result.summary()


async def _run_scenario(
    scenario: Callable[..., Awaitable[RunResult]],
    name: str,
    stack: LocalStack | None,
    servers: tuple[str, str],
    topic_prefix: str,
    mongo_db_name: str,
    tmp_path: Path,
    **options: Any,
) -> None:
    """Run one fault scenario, always heal the stack, then require an exact result."""
    ctx = _ctx(stack, *servers, tmp_path)
    env = new_env(ctx, name, topic_prefix, mongo_db_name)
    try:
        result = await scenario(ctx, env, SEED, **options)
    finally:
        ctx.heal()
    _assert_ok(result)


async def test_kafka_stopped_and_restarted_under_a_running_service(
    stack: LocalStack | None,
    kafka_bootstrap: str,
    mongodb_uri: str,
    topic_prefix: str,
    mongo_db_name: str,
    tmp_path: Path,
) -> None:
    await _run_scenario(
        kafka_restart,
        "kafka",
        stack,
        (kafka_bootstrap, mongodb_uri),
        topic_prefix,
        mongo_db_name,
        tmp_path,
        modes=(True,),
    )


async def test_ferretdb_stopped_and_restarted_under_a_running_service(
    stack: LocalStack | None,
    kafka_bootstrap: str,
    mongodb_uri: str,
    topic_prefix: str,
    mongo_db_name: str,
    tmp_path: Path,
) -> None:
    await _run_scenario(
        mongo_restart,
        "mongo",
        stack,
        (kafka_bootstrap, mongodb_uri),
        topic_prefix,
        mongo_db_name,
        tmp_path,
        modes=(False,),
    )


async def test_two_instances_in_one_group_one_killed_mid_stream(
    stack: LocalStack | None,
    kafka_bootstrap: str,
    mongodb_uri: str,
    topic_prefix: str,
    mongo_db_name: str,
    tmp_path: Path,
) -> None:
    await _run_scenario(
        group_changes,
        "group",
        stack,
        (kafka_bootstrap, mongodb_uri),
        topic_prefix,
        mongo_db_name,
        tmp_path,
        three=False,
    )


async def test_api_commands_during_a_kafka_outage_answer_503_and_take_effect_once(
    stack: LocalStack | None,
    kafka_bootstrap: str,
    mongodb_uri: str,
    topic_prefix: str,
    mongo_db_name: str,
    tmp_path: Path,
) -> None:
    await _run_scenario(
        api_outage,
        "api",
        stack,
        (kafka_bootstrap, mongodb_uri),
        topic_prefix,
        mongo_db_name,
        tmp_path,
    )
