"""As a person would: `batch-service run` (what `make run` starts), then curl a batch into
existence, enrol learners, report progress, and read the certificate in a learner's document.
The same commands as the README's API section."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from testkit.harness import Env, ServiceProcess, http_address, publish

ROOT = Path(__file__).resolve().parents[2]


def curl(method: str, url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """curl, as the README shows it; (HTTP status, parsed JSON body)."""
    command = ["curl", "-s", "-w", "\n%{http_code}", "-X", method, url]
    if body is not None:
        command += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    text, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(text) if text else None


@pytest.fixture
async def served(
    kafka_bootstrap: str, mongodb_uri: str, topic_prefix: str, mongo_db_name: str, tmp_path: Path
) -> AsyncIterator[tuple[ServiceProcess, str]]:
    """`batch-service run` as `make run` starts it (authentication off), and its address; it
    must stop cleanly at the end."""
    if shutil.which("curl") is None:
        pytest.fail("curl is needed for this test (Debian: apt-get install curl)")
    env = Env(
        kafka_bootstrap, mongodb_uri, topic_prefix, mongo_db_name, BATCH_SERVICE_API_AUTH="disabled"
    )
    service = ServiceProcess(env, tmp_path, "run").start()
    try:
        await service.wait_consuming()
        yield service, http_address(service)
    finally:
        assert service.terminate() == 0, service.log()[-3000:]


async def test_make_run_then_curl_a_batch_learners_progress_and_a_certificate(
    served: tuple[ServiceProcess, str], kafka_bootstrap: str, topic_prefix: str
) -> None:
    service, base = served
    assert '"api_auth_disabled"' in service.log(), "disabled auth is said loudly"
    course = {
        "specversion": "1.0",
        "id": "course-e2e",
        "source": "course-service",
        "time": "2026-01-01T00:00:00Z",
        "type": "course.published",
        "data": {
            "courseId": "python-101",
            "leafNodes": ["lesson-1", "lesson-2"],
            "assessments": [],
        },
    }
    await publish(kafka_bootstrap, topic_prefix, [course])
    status, batch = curl(
        "POST",
        f"{base}/v1/batches?wait=20",
        {
            "batchId": "autumn",
            "courseId": "python-101",
            "name": "Autumn cohort",
            "enrollmentType": "open",
            "startDate": "2026-01-01",
            "endDate": "2027-12-31",
            "maximumCapacity": 1,
            "allowWaitlisting": True,
            "certificateTemplates": [
                {"templateId": "completion", "criteria": {"completionPercent": 100}}
            ],
        },
    )
    assert status == 200 and batch["status"] == "ongoing", batch
    status, first = curl("POST", f"{base}/v1/batches/autumn/enrolments?wait=20", {"userId": "ada"})
    assert status == 200 and first["enrolmentStatus"] == "enrolled", first
    status, second = curl(
        "POST", f"{base}/v1/batches/autumn/enrolments?wait=20", {"userId": "alan"}
    )
    assert status == 200 and second["enrolmentStatus"] == "waitlisted", second
    progress = {
        "events": [
            {
                "type": "content.completed",
                "batchId": "autumn",
                "userId": "ada",
                "contentId": "lesson-1",
            },
            {
                "type": "content.completed",
                "batchId": "autumn",
                "userId": "ada",
                "contentId": "lesson-2",
            },
        ]
    }
    status, answer = curl("POST", f"{base}/v1/progress?wait=20", progress)
    assert status == 200, answer
    status, ada = curl("GET", f"{base}/v1/batches/autumn/enrolments/ada")
    assert status == 200 and [c["templateId"] for c in ada["certificates"]] == ["completion"]
    status, roster = curl("GET", f"{base}/v1/batches/autumn/enrolments")
    assert [e["userId"] for e in roster["items"]] == ["ada", "alan"]
    status, missing = curl("GET", f"{base}/v1/batches/nope")
    assert status == 404 and missing["code"] == "unknown-batch"


def readme_api_block() -> str:
    """The first `sh` block of the README's "The HTTP API" section."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## The HTTP API") :]
    found = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert found, "the README's API section has no sh block"
    return found.group(1)


async def test_the_readmes_api_commands_run_as_written(
    served: tuple[ServiceProcess, str], kafka_bootstrap: str, topic_prefix: str
) -> None:
    # The README's block, run by bash against a running service (only its address changes):
    # every command succeeds today and on any later day, and the learner it enrols ends certified.
    _, base = served
    script = readme_api_block().replace("http://127.0.0.1:8080", base)
    script = re.sub(r"curl -s ", "curl -sf ", script)  # an HTTP error fails the command
    shell_env = os.environ | {
        "BATCH_SERVICE_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "BATCH_SERVICE_TOPIC_PREFIX": topic_prefix,
    }
    done = await asyncio.to_thread(
        subprocess.run,
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=shell_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    for _ in range(100):  # the README's `?wait=10` may answer 202 on a slow machine
        status, ada = curl("GET", f"{base}/v1/batches/autumn/enrolments/ada")
        if status == 200 and ada["certificates"]:
            break
        await asyncio.sleep(0.2)
    assert status == 200 and ada["enrolmentStatus"] == "enrolled", ada
    assert [c["templateId"] for c in ada["certificates"]] == ["completion"], ada
