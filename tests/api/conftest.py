"""The HTTP API in this process, over the real Kafka and MongoDB, with the service's consumer
loop running beside it (so `?wait=` sees the fold) and a clock the tests set."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest
from pymongo import AsyncMongoClient

from consumers.bootstrap import Service, bootstrap
from consumers.http_app import http_app
from services.clock import ManualClock
from services.settings import Settings
from testkit.harness import publish
from testkit.in_process import consuming

SECRET = "test-secret-0123456789-0123456789"
AUDIENCE = "batch-service"
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
_ids = itertools.count()


def token(sub: str, *roles: str, ttl_s: float = 600, **claims: Any) -> str:
    """A bearer token the API accepts (HS256, the test secret and audience)."""
    body = {"sub": sub, "roles": list(roles), "exp": int(time.time() + ttl_s), "aud": AUDIENCE}
    return jwt.encode(body | claims, SECRET, algorithm="HS256")


def auth(sub: str, *roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(sub, *roles)}"}


ADMIN = auth("admin-1", "admin")


def fresh(prefix: str) -> str:
    """A unique id for this test run."""
    return f"{prefix}-{next(_ids)}-{uuid.uuid4().hex[:6]}"


def batch_body(batch_id: str, **fields: Any) -> dict[str, Any]:
    """A `POST /v1/batches` body: an ongoing batch (around NOW) unless told otherwise."""
    return {
        "batchId": batch_id,
        "courseId": "course-1",
        "name": "Cohort",
        "enrollmentType": "open",
        "startDate": "2026-05-01",
        "endDate": "2026-08-31",
        "mentors": ["mentor-1"],
        "certificateTemplates": [{"templateId": "done", "criteria": {"completionPercent": 100}}],
        **fields,
    }


@dataclass
class Api:
    """The client, and the service behind it."""

    client: httpx.AsyncClient
    service: Service
    clock: ManualClock
    app: Any = None  # the ASGI app: another client, from another address, may call it

    def client_from(self, address: str) -> httpx.AsyncClient:
        """A client of the same app whose calls come from `address`."""
        transport = httpx.ASGITransport(app=self.app, client=(address, 4321))
        return httpx.AsyncClient(transport=transport, base_url="http://api")

    async def create(self, batch_id: str, headers: dict[str, str] = ADMIN, **fields: Any) -> Any:
        response = await self.client.post(
            "/v1/batches?wait=20", json=batch_body(batch_id, **fields), headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def course(self, course_id: str = "course-1", leaves: tuple[str, ...] = ("a",)) -> None:
        """A course, published as its owning service would (not an API command)."""
        data = {"courseId": course_id, "leafNodes": list(leaves), "assessments": []}
        await self.publish("course.published", data, "2026-01-01T00:00:00Z")

    async def publish(self, event_type: str, data: dict[str, Any], time: str) -> None:
        """An event published to the inbound topics by another service, not through the API."""
        event = {
            "specversion": "1.0",
            "id": fresh(event_type),
            "source": "tests",
            "time": time,
            "type": event_type,
            "data": data,
        }
        settings = self.service.settings
        await publish(settings.kafka_bootstrap, settings.topic_prefix, [event])


async def _api(kafka: str, mongo: str, **overrides: Any) -> AsyncIterator[Api]:
    tag = uuid.uuid4().hex[:8]
    fields: dict[str, Any] = {
        "kafka_bootstrap": kafka,
        "mongodb_uri": mongo,
        "db": f"api_{tag}",
        "topic_prefix": f"api-{tag}-",
        "group_id": f"api-{tag}",
        "api_jwt_secret": SECRET,
        "api_jwt_audience": AUDIENCE,
        "api_rate_limit_per_minute": 100_000,
        "poll_timeout_ms": 100,
        "retry_backoff_max_s": 1,
    }
    settings = Settings(**(fields | overrides))
    clock = ManualClock(NOW)
    stop = asyncio.Event()
    async with bootstrap(settings, stop=stop, clock=clock) as service, http_app(service) as app:
        transport = httpx.ASGITransport(app=app)
        try:
            async with (
                consuming(service, stop),
                httpx.AsyncClient(transport=transport, base_url="http://api") as client,
            ):
                yield Api(client, service, clock, app)
        finally:
            mongo_client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo)
            with contextlib.suppress(Exception):
                await mongo_client.drop_database(settings.db)
            await mongo_client.close()


@pytest.fixture(scope="module")
async def api(kafka_bootstrap: str, mongodb_uri: str) -> AsyncIterator[Api]:
    """One API (and service) per test module; tests use their own batch ids."""
    async for harness in _api(kafka_bootstrap, mongodb_uri):
        yield harness


@pytest.fixture
async def open_api(kafka_bootstrap: str, mongodb_uri: str) -> AsyncIterator[Api]:
    """An API without authentication (as `make run` has it), with the default rate limit."""
    async for harness in _api(
        kafka_bootstrap,
        mongodb_uri,
        api_auth="disabled",
        api_rate_limit_per_minute=30,
        api_rate_limit_lock_s=300,
    ):
        yield harness


@pytest.fixture
async def limited_api(kafka_bootstrap: str, mongodb_uri: str) -> AsyncIterator[Api]:
    """An API with the default rate limit (30 a minute, then a 5-minute lock)."""
    async for harness in _api(
        kafka_bootstrap, mongodb_uri, api_rate_limit_per_minute=30, api_rate_limit_lock_s=300
    ):
        yield harness
