"""As a person would: `batch-service run` (what `make run` starts), then curl a batch into
existence, enrol learners, report progress, and read the certificate in a learner's document.
The same commands as the README's API section."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from testkit.harness import Env, ServiceProcess, http_address, publish


def curl(method: str, url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """curl, as the README shows it; (HTTP status, parsed JSON body)."""
    command = ["curl", "-s", "-w", "\n%{http_code}", "-X", method, url]
    if body is not None:
        command += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    text, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(text) if text else None


async def test_make_run_then_curl_a_batch_learners_progress_and_a_certificate(
    kafka_bootstrap: str, mongodb_uri: str, topic_prefix: str, mongo_db_name: str, tmp_path: Path
) -> None:
    if shutil.which("curl") is None:
        pytest.fail("curl is needed for this test (Debian: apt-get install curl)")
    env = Env(
        kafka_bootstrap, mongodb_uri, topic_prefix, mongo_db_name, BATCH_SERVICE_API_AUTH="disabled"
    )
    service = ServiceProcess(env, tmp_path, "run").start()
    try:
        await service.wait_consuming()
        base = http_address(service)
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
        status, first = curl(
            "POST", f"{base}/v1/batches/autumn/enrolments?wait=20", {"userId": "ada"}
        )
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
    finally:
        assert service.terminate() == 0, service.log()[-3000:]
