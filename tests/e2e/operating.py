"""What the operating tests share: contract events by hand, and Prometheus scrapes."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def event(kind: str, event_id: str, **data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "operating-test",
        "time": data.pop("at", "2026-11-01T10:00:00Z"),
        "type": kind,
        "data": data,
    }


def course(course_id: str = "c1", leaves: int = 2) -> dict[str, Any]:
    leaf_nodes = [f"l{i}" for i in range(leaves)]
    return event(
        "course.published",
        f"course-{course_id}",
        courseId=course_id,
        leafNodes=leaf_nodes,
        assessments=[],
    )


def batch(batch_id: str, course_id: str = "c1") -> dict[str, Any]:
    return event(
        "batch.created",
        f"created-{batch_id}",
        batchId=batch_id,
        courseId=course_id,
        name=batch_id,
        startDate="2026-01-01",
        enrollmentEndDate=None,
        endDate="2027-12-31",
        mentors=[],
        enrollmentType="open",
        certificateTemplates=[{"templateId": "done", "criteria": {"completionPercent": 100}}],
    )


def learner_completes(batch_id: str, user: str, leaves: int = 2) -> list[dict[str, Any]]:
    """Enrolment, then every leaf completed: the last event decides the certificate."""
    events = [event("enrolment.created", f"enrol-{batch_id}-{user}", batchId=batch_id, userId=user)]
    events += [
        event(
            "content.completed",
            f"done-{batch_id}-{user}-{i}",
            batchId=batch_id,
            userId=user,
            contentId=f"l{i}",
            at=f"2026-11-01T10:0{i + 1}:00Z",
        )
        for i in range(leaves)
    ]
    return events


async def scrape(base: str) -> Samples:
    """Every sample of `/metrics`, by (name, sorted labels)."""
    async with httpx.AsyncClient(timeout=10) as client:
        answer = await client.get(f"{base}/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain"), answer.headers
    samples: Samples = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value (0 when absent: a counter never incremented has no labelled series)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def series(samples: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: v for (n, labels), v in samples.items() if n == name}


async def get(base: str, path: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=15) as client:
        return await client.get(f"{base}{path}")


async def eventually(check: Any, timeout_s: float = 60, what: str = "") -> Any:
    """Call async `check` until it returns a truthy value (returned) or time runs out."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.5)
    raise AssertionError(f"not within {timeout_s} s: {what} (last: {last!r})")
