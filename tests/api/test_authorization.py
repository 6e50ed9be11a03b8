"""Who may do what (contract 9), role by role and command by command, and what the API says
when Kafka or MongoDB cannot be reached, or when it fails."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from api import ApiDeps, Authenticator, RateLimiter, create_app
from producers.sdk import BatchEventPublisher
from services.clock import ManualClock
from services.errors import PublishUnavailable
from services.settings import Settings
from services.storage import InMemoryRateLimits, InMemoryStore, MongoStore
from tests.api.conftest import ADMIN, NOW, SECRET, Api, auth, batch_body, fresh
from tests.api.test_problems import assert_problem

ROLES = {
    "admin": auth("root", "admin"),
    "creator": auth("creator-1"),
    "mentor": auth("mentor-1"),
    "learner": auth("learner-1"),
    "stranger": auth("stranger-1"),
}


def _matrix(batch: str) -> list[tuple[str, str, str, dict[str, Any] | None, set[str]]]:
    """(method, path, description, body, roles allowed)."""
    learner_doc = f"/v1/batches/{batch}/enrolments/learner-1"
    progress = {
        "events": [
            {"type": "content.completed", "batchId": batch, "userId": "learner-1", "contentId": "c"}
        ]
    }
    return [
        ("GET", f"/v1/batches/{batch}", "read the batch", None, set(ROLES)),
        ("GET", "/v1/batches", "list batches", None, set(ROLES)),
        (
            "PATCH",
            f"/v1/batches/{batch}",
            "update",
            {"name": "renamed"},
            {"admin", "creator", "mentor"},
        ),
        (
            "POST",
            f"/v1/batches/{batch}/enrolments",
            "enrol the learner",
            {"userId": "learner-1"},
            set(ROLES) - {"stranger"},
        ),
        (
            "POST",
            f"/v1/batches/{batch}/enrolments",
            "enrol another",
            {"userId": "someone"},
            {"admin", "creator", "mentor"},
        ),
        ("GET", learner_doc, "read the learner's document", None, set(ROLES) - {"stranger"}),
        (
            "GET",
            f"/v1/batches/{batch}/enrolments",
            "list participants",
            None,
            {"admin", "creator", "mentor"},
        ),
        (
            "GET",
            "/v1/users/learner-1/enrolments",
            "list the learner's batches",
            None,
            {"admin", "learner"},
        ),
        ("POST", "/v1/progress", "report the learner's progress", progress, {"admin", "learner"}),
        (
            "DELETE",
            f"/v1/batches/{batch}/enrolments/someone",
            "unenrol another",
            None,
            {"admin", "creator", "mentor"},
        ),
        ("POST", f"/v1/batches/{batch}/cancel", "cancel", None, {"admin", "creator", "mentor"}),
    ]


async def test_each_role_against_each_command(api: Api) -> None:
    batch = fresh("authz")
    await api.create(batch, headers=ROLES["creator"], mentors=["mentor-1"])
    await api.client.post(
        f"/v1/batches/{batch}/enrolments?wait=20", json={"userId": "learner-1"}, headers=ADMIN
    )
    await api.client.post(
        f"/v1/batches/{batch}/enrolments?wait=20", json={"userId": "someone"}, headers=ADMIN
    )
    for method, path, what, body, allowed in _matrix(batch):
        for role, headers in ROLES.items():
            if what == "cancel" and role != "stranger" and role in allowed:
                continue  # cancelling is final: done last, once
            response = await api.client.request(method, path, json=body, headers=headers)
            if role in allowed:
                assert response.status_code not in (401, 403), f"{role} may {what}: {response.text}"
            else:
                assert_problem(response, 403, "forbidden")
    cancel = await api.client.post(f"/v1/batches/{batch}/cancel", headers=ROLES["mentor"])
    assert cancel.status_code == 202
    anonymous = await api.client.post("/v1/batches", json=batch_body(fresh("b")))
    assert_problem(anonymous, 401, "unauthenticated")


async def test_only_an_admin_changes_who_created_a_batch(api: Api) -> None:
    batch = fresh("owner")
    await api.create(batch, headers=ROLES["creator"], mentors=["mentor-1"])
    path = f"/v1/batches/{batch}?wait=20"
    for role in ("creator", "mentor"):
        taken = await api.client.patch(path, json={"createdBy": role}, headers=ROLES[role])
        assert_problem(taken, 403, "forbidden")
    same = await api.client.patch(path, json={"createdBy": "creator-1"}, headers=ROLES["mentor"])
    assert same.status_code == 200, "naming the creator it has is no change"
    mentors = await api.client.patch(
        path, json={"mentors": ["mentor-1", "mentor-2"]}, headers=ROLES["mentor"]
    )
    assert mentors.status_code == 200 and mentors.json()["mentors"] == ["mentor-1", "mentor-2"]
    handed = await api.client.patch(path, json={"createdBy": "creator-2"}, headers=ADMIN)
    assert handed.status_code == 200 and handed.json()["createdBy"] == "creator-2"


class _DownPublisher(BatchEventPublisher):
    """The SDK with its broker gone: every publish fails as Kafka trouble does."""

    async def publish(self, event: Any) -> str:
        raise PublishUnavailable("KafkaConnectionError: broker 127.0.0.1:9 down (test)")


@pytest.fixture
async def unreachable_mongo() -> AsyncIterator[httpx.AsyncClient]:
    """The API over a MongoDB that does not answer (nothing listens on the port)."""
    settings = Settings(api_jwt_secret=SECRET, api_jwt_audience="batch-service")
    store = MongoStore.connect("mongodb://127.0.0.1:9/", "nowhere", timeout_ms=1500)
    deps = ApiDeps(
        settings,
        store.stores(),
        _DownPublisher(settings, source="t"),
        ManualClock(NOW),
        Authenticator(settings),
        RateLimiter(InMemoryRateLimits(), 100, 300),
    )
    async with (
        store,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(deps)), base_url="http://api"
        ) as client,
    ):
        yield client


async def test_503_when_mongodb_cannot_be_reached_and_the_api_keeps_answering(
    unreachable_mongo: httpx.AsyncClient,
) -> None:
    for _ in range(2):
        response = await unreachable_mongo.get("/v1/batches/b1", headers=ADMIN)
        body = assert_problem(response, 503, "unavailable")
        assert "MongoDB" in body["detail"] and response.headers["Retry-After"]
    # A Sunbird client gets the same answer in its own envelope.
    sunbird = await unreachable_mongo.get("/v1/course/batch/read/b1", headers=ADMIN)
    assert sunbird.status_code == 503 and sunbird.headers["Retry-After"]
    assert sunbird.json()["params"]["err"] == "SERVICE_UNAVAILABLE"
    assert sunbird.json()["responseCode"] == "SERVER_ERROR"


async def test_503_when_kafka_cannot_be_reached_and_nothing_is_half_done() -> None:
    store = InMemoryStore()
    settings = Settings(api_jwt_secret=SECRET, api_jwt_audience="batch-service")
    deps = ApiDeps(
        settings,
        store.stores(),
        _DownPublisher(settings, source="t"),
        ManualClock(NOW),
        Authenticator(settings),
        RateLimiter(InMemoryRateLimits(), 100, 300),
    )
    transport = httpx.ASGITransport(app=create_app(deps))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        response = await client.post("/v1/batches", json=batch_body("b1"), headers=ADMIN)
        body = assert_problem(response, 503, "unavailable")
        assert "Kafka" in body["detail"]
    assert await store.documents.get_batches(["b1"]) == {}, "no document without its event"


async def test_500_never_shows_internals() -> None:
    class Exploding(InMemoryStore):
        pass

    store = Exploding()

    async def explode(ids: Any) -> Any:
        raise RuntimeError("secret internal detail /etc/passwd")

    store.documents.get_batches = explode  # type: ignore[method-assign]
    settings = Settings(api_jwt_secret=SECRET, api_jwt_audience="batch-service")
    deps = ApiDeps(
        settings,
        store.stores(),
        BatchEventPublisher(settings, source="t"),
        ManualClock(NOW),
        Authenticator(settings),
        RateLimiter(InMemoryRateLimits(), 100, 300),
    )
    transport = httpx.ASGITransport(app=create_app(deps), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        response = await client.get("/v1/batches/b1", headers=ADMIN)
        sunbird = await client.get("/v1/course/batch/read/b1", headers=ADMIN)
    body = assert_problem(response, 500, "internal-error")
    assert "secret" not in response.text and "passwd" not in response.text
    assert body["detail"].startswith("the service failed")
    assert sunbird.status_code == 500, "in Sunbird's envelope too"
    assert sunbird.json()["params"]["err"] == "SERVER_ERROR"
    assert "secret" not in sunbird.text and "passwd" not in sunbird.text
