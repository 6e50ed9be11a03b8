"""Fuzzing the served OpenAPI document with schemathesis: `batch-service api` as a process,
generated requests against every operation, no 500, and every answer as documented (status,
content type, body schema). A bounded number of examples here; `make fuzz-api` runs more."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from testkit.harness import Env, ServiceProcess, http_address
from tests.api.conftest import ADMIN, AUDIENCE, SECRET

EXAMPLES = int(os.environ.get("BATCH_SERVICE_FUZZ_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def served(
    kafka_bootstrap: str, mongodb_uri: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`batch-service api` on a free port; its address."""
    tag = os.urandom(4).hex()
    env = Env(
        kafka_bootstrap,
        mongodb_uri,
        f"fuzz-{tag}-",
        f"fuzz_{tag}",
        BATCH_SERVICE_API_JWT_SECRET=SECRET,
        BATCH_SERVICE_API_JWT_AUDIENCE=AUDIENCE,
        BATCH_SERVICE_API_RATE_LIMIT_PER_MINUTE="1000000",
    )
    log_dir: Path = tmp_path_factory.mktemp("fuzz")
    service = ServiceProcess(env, log_dir, "fuzz-api", command="api").start()
    try:
        yield http_address(service, timeout_s=60)
    finally:
        assert service.terminate() == 0, service.log()[-3000:]


def test_no_server_error_and_every_answer_as_documented(served: str) -> None:
    schema = schemathesis.openapi.from_url(f"{served}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 11, "every route of contract 9 is described"
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def call(case: Any) -> None:
            case.call_and_validate(base_url=served, headers=ADMIN, checks=CHECKS)

        call()
