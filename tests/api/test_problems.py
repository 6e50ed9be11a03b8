"""Every code of contract 9 provoked for real, each answered as an RFC 9457 problem."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from schemas.types import parse_time
from tests.api.conftest import ADMIN, AUDIENCE, NOW, SECRET, Api, auth, batch_body, fresh, token


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The answer is the problem: status, stable code, the RFC 9457 members, a request id."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["code"] == code, body
    assert body["type"].endswith(f"/{code}") and body["title"] and body["detail"]
    assert isinstance(body["errors"], list)
    assert body["requestId"] == response.headers["X-Request-ID"]
    return body


async def test_400_malformed_or_invalid_input_names_the_fields(api: Api) -> None:
    bad = batch_body(fresh("b"), startDate="2026-13-40", maximumCapacity=0)
    body = assert_problem(
        await api.client.post("/v1/batches", json=bad, headers=ADMIN), 400, "invalid-request"
    )
    assert {e["field"] for e in body["errors"]} >= {"startDate", "maximumCapacity"}
    # A rule over several fields names each of them (as an update's does, below).
    for fields, named in (
        ({"startDate": "2026-09-01", "endDate": "2026-08-01"}, ["startDate", "endDate"]),
        ({"minimumCapacity": 5, "maximumCapacity": 2}, ["minimumCapacity", "maximumCapacity"]),
    ):
        unordered = batch_body(fresh("b"), **fields)
        body = assert_problem(
            await api.client.post("/v1/batches", json=unordered, headers=ADMIN),
            400,
            "invalid-request",
        )
        assert [e["field"] for e in body["errors"]] == named, body
    not_json = await api.client.post(
        "/v1/batches", content=b"{", headers=ADMIN | {"content-type": "application/json"}
    )
    assert_problem(not_json, 400, "invalid-request")
    assert_problem(
        await api.client.get("/v1/batches?cursor=%%%", headers=ADMIN), 400, "invalid-cursor"
    )
    assert_problem(
        await api.client.get("/v1/batches?limit=0", headers=ADMIN), 400, "invalid-request"
    )
    batch_id = fresh("b")
    await api.create(batch_id)
    # A cursor that decodes but is not this list's (another list's, or made by hand).
    place = [0, 0, "", "", "u"]
    participants = f"participants\n{batch_id}"
    for path, position in (
        (f"/v1/batches/{batch_id}/enrolments", [participants, "b-1"]),
        (f"/v1/batches/{batch_id}/enrolments", [participants, [1, "x"]]),
        (f"/v1/batches/{batch_id}/enrolments", place),  # untagged
        (f"/v1/batches/{batch_id}/enrolments", ["participants\nanother-batch", place]),
        ("/v1/users/u/enrolments", ["batches", "b-1"]),
        ("/v1/users/u/enrolments", ["batches of\nanother-user", "b-1"]),
        ("/v1/batches", ["batches of\nu", "b-1"]),
        ("/v1/batches", ["batches", {"after": "b-1"}]),
    ):
        raw = base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")
        body = assert_problem(
            await api.client.get(f"{path}?cursor={raw}", headers=ADMIN), 400, "invalid-cursor"
        )
        assert body["errors"] == [{"field": "cursor", "message": "unknown cursor"}]
    for path, position in (  # each list's own cursor, as the test above alters them
        (f"/v1/batches/{batch_id}/enrolments", [participants, place]),
        ("/v1/users/u/enrolments", ["batches of\nu", "b-1"]),
        ("/v1/batches", ["batches", "b-1"]),
    ):
        raw = base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")
        assert (await api.client.get(f"{path}?cursor={raw}", headers=ADMIN)).status_code == 200
    # An update whose batch would break the rules a `batch.created` is held to: invalid input.
    capped = fresh("b")
    await api.create(capped, maximumCapacity=3)
    for target, change, code in (
        (batch_id, {"endDate": "2026-04-01"}, "dates-out-of-order"),  # before its startDate
        (capped, {"minimumCapacity": 5}, "capacity-order"),  # above its maximumCapacity
        (batch_id, {"courseId": "another-course"}, "course-immutable"),
    ):
        patched = await api.client.patch(f"/v1/batches/{target}", json=change, headers=ADMIN)
        body = assert_problem(patched, 400, code)
        assert [e["field"] for e in body["errors"]] == list(change), body
    for wait in ("31", "-1", "nan", "inf"):  # a NaN wait compares false to any bound
        waited = await api.client.post(
            f"/v1/batches/{batch_id}/enrolments?wait={wait}", json={"userId": "u"}, headers=ADMIN
        )
        assert_problem(waited, 400, "invalid-wait")
    items = [
        {
            "type": "content.progress",
            "batchId": batch_id,
            "userId": "u",
            "contentId": "c",
            "progress": 101,
        }
    ]
    assert_problem(
        await api.client.post("/v1/progress", json={"events": items}, headers=ADMIN),
        400,
        "invalid-request",
    )
    late = [
        {
            "type": "content.completed",
            "batchId": batch_id,
            "userId": "u",
            "contentId": "c",
            "time": "yesterday",
        }
    ]
    body = assert_problem(
        await api.client.post("/v1/progress", json={"events": late}, headers=ADMIN),
        400,
        "invalid-event",
    )
    assert body["errors"][0]["field"] == "events[0].time"
    overscored = [
        {
            "type": "assessment.submitted",
            "batchId": batch_id,
            "userId": "u",
            "assessmentId": "q",
            "attemptId": "t",
            "score": 5,
            "maxScore": 4,
        }
    ]
    body = assert_problem(
        await api.client.post("/v1/progress", json={"events": overscored}, headers=ADMIN),
        400,
        "invalid-event",
    )  # the rule names both of its fields
    fields = [e["field"] for e in body["errors"]]
    assert fields == ["events[0].data.score", "events[0].data.maxScore"], body


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "unauthenticated"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "unauthenticated"),
        ({"Authorization": "Bearer not.a.jwt"}, "invalid-token"),
        ({"Authorization": f"Bearer {token('u', ttl_s=-10)}"}, "token-expired"),
        ({"Authorization": f"Bearer {token('u', aud='someone-else')}"}, "invalid-token"),
        (
            {
                "Authorization": "Bearer "
                + __import__("jwt").encode(
                    {"sub": "u", "exp": 9999999999, "aud": AUDIENCE},
                    SECRET + "x",
                    algorithm="HS256",
                )
            },
            "invalid-token",
        ),
    ],
)
async def test_401_without_a_token_or_with_a_bad_one(
    api: Api, headers: dict[str, str], code: str
) -> None:
    response = await api.client.get("/v1/batches", headers=headers)
    assert_problem(response, 401, code)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_404_unknown_batch_learner_or_route(api: Api) -> None:
    assert_problem(
        await api.client.get("/v1/batches/no-such-batch", headers=ADMIN), 404, "unknown-batch"
    )
    batch_id = fresh("b")
    await api.create(batch_id)
    assert_problem(
        await api.client.get(f"/v1/batches/{batch_id}/enrolments/nobody", headers=ADMIN),
        404,
        "unknown-learner",
    )
    assert_problem(
        await api.client.delete(f"/v1/batches/{batch_id}/enrolments/nobody", headers=ADMIN),
        404,
        "not-enrolled",
    )
    assert_problem(await api.client.get("/v1/nothing-here", headers=ADMIN), 404, "not-found")
    wrong_method = await api.client.put(f"/v1/batches/{batch_id}", headers=ADMIN)
    assert_problem(wrong_method, 405, "method-not-allowed")
    assert set(wrong_method.headers["allow"].split(", ")) == {"GET", "PATCH"}
    events = [
        {"type": "content.completed", "batchId": "no-such-batch", "userId": "u", "contentId": "c"}
    ]
    assert_problem(
        await api.client.post("/v1/progress", json={"events": events}, headers=ADMIN),
        404,
        "unknown-batch",
    )


async def test_an_id_that_cannot_be_an_identifier_is_a_400_naming_it_never_a_503(
    api: Api,
) -> None:
    """Contract 1: identifiers have no control characters and at most 256 characters. One in
    the path or the query names nothing: 400 with the field (FerretDB cannot even look a NUL
    up; that answered 503, as if MongoDB were down)."""
    for path, field in [
        ("/v1/batches/a%00b", "batchId"),
        ("/v1/batches/a%00b/enrolments/u", "batchId"),
        (f"/v1/batches/b/enrolments/{'u' * 257}", "userId"),
        ("/v1/users/a%01b/enrolments", "userId"),
        ("/v1/batches?courseId=%00", "courseId"),
    ]:
        answer = await api.client.get(path, headers=ADMIN)
        assert_problem(answer, 400, "invalid-request")
        assert [e["field"] for e in answer.json()["errors"]] == [field], path
    enrol = await api.client.post(
        "/v1/batches/a%00b/enrolments", json={"userId": "u"}, headers=ADMIN
    )
    assert_problem(enrol, 400, "invalid-request")


async def test_409_already_enrolled_or_waitlisted(api: Api) -> None:
    batch_id = fresh("b")
    await api.create(batch_id, maximumCapacity=1, allowWaitlisting=True)
    for user in ("a", "b"):
        answer = await api.client.post(
            f"/v1/batches/{batch_id}/enrolments?wait=20", json={"userId": user}, headers=ADMIN
        )
        assert answer.status_code == 200
    for user in ("a", "b"):
        again = await api.client.post(
            f"/v1/batches/{batch_id}/enrolments", json={"userId": user}, headers=ADMIN
        )
        assert_problem(again, 409, "already-enrolled")


async def test_422_each_business_rule_by_name(api: Api) -> None:
    closed = fresh("closed")
    await api.create(closed, startDate="2026-04-01", enrollmentEndDate="2026-05-01")
    late = await api.client.post(
        f"/v1/batches/{closed}/enrolments", json={"userId": "u"}, headers=ADMIN
    )
    assert_problem(late, 422, "enrolment-closed")
    over = fresh("over")  # ended before NOW, no enrollmentEndDate: the deadline is its end
    await api.create(over, startDate="2026-04-01", endDate="2026-05-01")
    ended = await api.client.post(
        f"/v1/batches/{over}/enrolments", json={"userId": "u"}, headers=ADMIN
    )
    assert_problem(ended, 422, "enrolment-closed")

    full = fresh("full")
    await api.create(full, maximumCapacity=1)
    first = await api.client.post(
        f"/v1/batches/{full}/enrolments?wait=20", json={"userId": "a"}, headers=ADMIN
    )
    assert first.status_code == 200
    second = await api.client.post(
        f"/v1/batches/{full}/enrolments", json={"userId": "b"}, headers=ADMIN
    )
    assert_problem(second, 422, "batch-full")

    seated = fresh("seated")
    await api.create(seated, maximumCapacity=3)
    for user in ("a", "b"):
        await api.client.post(
            f"/v1/batches/{seated}/enrolments?wait=20", json={"userId": user}, headers=ADMIN
        )
    lower = await api.client.patch(
        f"/v1/batches/{seated}", json={"maximumCapacity": 1}, headers=ADMIN
    )
    assert_problem(lower, 422, "capacity-below-seated")

    await api.course("course-1", ("a",))
    done = fresh("done")
    await api.create(done)
    await api.client.post(
        f"/v1/batches/{done}/enrolments?wait=20", json={"userId": "ada"}, headers=ADMIN
    )
    events = [{"type": "content.completed", "batchId": done, "userId": "ada", "contentId": "a"}]
    completed = await api.client.post(
        "/v1/progress?wait=20", json={"events": events}, headers=auth("ada")
    )
    assert completed.status_code == 200 and completed.json()["documents"][0]["progressStatus"] == 2
    leave = await api.client.delete(f"/v1/batches/{done}/enrolments/ada", headers=auth("ada"))
    assert_problem(leave, 422, "learner-completed")

    started = fresh("started")
    await api.create(started)  # started on 2026-05-01, the clock says 2026-06-01
    moved = await api.client.patch(
        f"/v1/batches/{started}", json={"startDate": "2026-05-15"}, headers=ADMIN
    )
    assert_problem(moved, 422, "batch-started")

    over = fresh("over")
    await api.create(over, startDate="2026-03-01", endDate="2026-04-30")
    shorter = await api.client.patch(
        f"/v1/batches/{over}", json={"endDate": "2026-04-15"}, headers=ADMIN
    )
    assert_problem(shorter, 422, "batch-completed")
    longer = await api.client.patch(
        f"/v1/batches/{over}?wait=20", json={"endDate": "2026-06-30"}, headers=ADMIN
    )
    assert longer.status_code == 200, "a completed batch may be extended"

    taken = fresh("taken")
    await api.create(taken)
    again = await api.client.post("/v1/batches", json=batch_body(taken), headers=ADMIN)
    assert_problem(again, 422, "batch-exists")

    invite = fresh("invite")
    await api.create(invite, enrollmentType="invite-only")
    self_enrol = await api.client.post(
        f"/v1/batches/{invite}/enrolments", json={"userId": "me"}, headers=auth("me")
    )
    assert_problem(self_enrol, 422, "invite-only")
    by_mentor = await api.client.post(
        f"/v1/batches/{invite}/enrolments?wait=20", json={"userId": "me"}, headers=auth("mentor-1")
    )
    assert by_mentor.status_code == 200 and by_mentor.json()["enrolmentStatus"] == "enrolled"

    gone = fresh("gone")
    await api.create(gone)
    assert (
        await api.client.post(f"/v1/batches/{gone}/cancel?wait=20", headers=ADMIN)
    ).status_code == 200
    assert_problem(
        await api.client.post(f"/v1/batches/{gone}/cancel", headers=ADMIN), 422, "batch-cancelled"
    )
    join = await api.client.post(
        f"/v1/batches/{gone}/enrolments", json={"userId": "u"}, headers=ADMIN
    )
    assert_problem(join, 422, "batch-cancelled")
    api.clock.set(api.clock.now() + timedelta(0))


async def test_429_after_30_calls_a_minute_with_retry_after_and_the_lock_holds(
    limited_api: Api,
) -> None:
    headers = auth("busy-caller")
    for _ in range(30):
        assert (await limited_api.client.get("/v1/batches", headers=headers)).status_code == 200
    limited = await limited_api.client.get("/v1/batches", headers=headers)
    body = assert_problem(limited, 429, "rate-limited")
    assert 295 <= int(limited.headers["Retry-After"]) <= 300, body
    still = await limited_api.client.get("/v1/batches", headers=headers)
    assert_problem(still, 429, "rate-limited")
    assert 1 <= int(still.headers["Retry-After"]) <= 300
    other = await limited_api.client.get("/v1/batches", headers=auth("someone-else"))
    assert other.status_code == 200, "the limit is per caller"


async def test_the_same_idempotency_key_twice_is_one_event_and_one_effect(api: Api) -> None:
    batch_id = fresh("idem")
    await api.create(batch_id)
    path = f"/v1/batches/{batch_id}/enrolments?wait=20"
    headers = auth("learner-x") | {"Idempotency-Key": "enrol-once-42"}
    first = await api.client.post(path, json={"userId": "learner-x"}, headers=headers)
    api.clock.advance(timedelta(minutes=1))  # a retry later: still the first attempt's event
    try:
        second = await api.client.post(path, json={"userId": "learner-x"}, headers=headers)
    finally:
        api.clock.set(NOW)
    assert (first.status_code, second.status_code) == (200, 200), second.text
    doc = (
        await api.client.get(f"/v1/batches/{batch_id}/enrolments/learner-x", headers=headers)
    ).json()
    [fact] = doc["facts"]["enrolments"]  # one effect
    assert parse_time(fact["time"]) == NOW, "the retry was the first attempt's event, its time too"
    body = batch_body(fresh("idem-b"))
    created = await api.client.post(
        "/v1/batches", json=body, headers=ADMIN | {"Idempotency-Key": "k1"}
    )
    again = await api.client.post(
        "/v1/batches", json=body, headers=ADMIN | {"Idempotency-Key": "k1"}
    )
    assert created.json()["id"] == again.json()["id"], "one event id for one key"
    without = await api.client.post("/v1/batches", json=batch_body(fresh("idem-c")), headers=ADMIN)
    assert without.json()["id"] != created.json()["id"]


async def test_a_retry_read_between_the_batch_save_and_its_markers_is_still_the_first_attempt(
    api: Api,
) -> None:
    # The fold saves a batch, then writes the markers of the events that save applied: a
    # retry in between once answered 422 batch-exists (batch-cancelled) for its own command.
    # The markers of the latest save removed = that moment.
    batch_id = fresh("window")
    settings = api.service.settings
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri)

    async def retried(path: str, body: dict[str, Any], name: str) -> httpx.Response:
        headers = ADMIN | {"Idempotency-Key": fresh(name)}
        first = await api.client.post(path, json=body, headers=headers)
        assert first.status_code == 200, first.text
        forgotten = await client[settings.db]["batch_events"].delete_many({"batchId": batch_id})
        assert forgotten.deleted_count >= 1
        return await api.client.post(path, json=body, headers=headers)

    try:
        again = await retried("/v1/batches?wait=20", batch_body(batch_id), "create")
        assert (again.status_code, again.json().get("batchId")) == (200, batch_id), again.text
        cancel = f"/v1/batches/{batch_id}/cancel?wait=20"
        cancel_again = await retried(cancel, {"reason": "r"}, "cancel")
        assert cancel_again.status_code == 200, cancel_again.text
        assert cancel_again.json()["cancelled"] is True
    finally:
        await client.close()


async def test_an_idempotency_key_used_for_another_request_is_refused_and_nothing_sent(
    api: Api,
) -> None:
    key = {"Idempotency-Key": fresh("reused")}
    first = await api.client.post("/v1/batches", json=batch_body(fresh("a")), headers=ADMIN | key)
    assert first.status_code == 202, first.text
    other = fresh("b")
    reused = await api.client.post(
        "/v1/batches?wait=5", json=batch_body(other), headers=ADMIN | key
    )
    assert_problem(reused, 422, "idempotency-key-reused")
    assert (await api.client.get(f"/v1/batches/{other}", headers=ADMIN)).status_code == 404


async def test_an_empty_idempotency_key_is_a_400_naming_it_and_nothing_is_sent(api: Api) -> None:
    """An empty key is no key: taken as one, every keyless retry of a create was "the same
    request", answered with a new batch's Location that nothing would ever fill."""
    empty = {"Idempotency-Key": ""}
    batch_id = fresh("empty-key")
    for path, body in [
        ("/v1/batches", {k: v for k, v in batch_body(batch_id).items() if k != "batchId"}),
        ("/v1/batches", batch_body(batch_id)),
        (f"/v1/batches/{batch_id}/enrolments", {"userId": "u"}),
    ]:
        answer = await api.client.post(path, json=body, headers=ADMIN | empty)
        problem = assert_problem(answer, 400, "invalid-request")
        assert [e["field"] for e in problem["errors"]] == ["header.Idempotency-Key"], problem
    await asyncio.sleep(1)  # what a create sent by mistake would need to be folded
    assert (await api.client.get(f"/v1/batches/{batch_id}", headers=ADMIN)).status_code == 404


async def test_progress_repeated_with_its_key_is_folded_once(api: Api) -> None:
    batch_id = fresh("idem-p")
    await api.course()
    await api.create(batch_id)
    learner = auth("learner-p")
    enrolled = await api.client.post(
        f"/v1/batches/{batch_id}/enrolments?wait=20", json={"userId": "learner-p"}, headers=learner
    )
    assert enrolled.status_code == 200, enrolled.text
    report = {
        "events": [
            {
                "type": "content.progress",
                "batchId": batch_id,
                "userId": "learner-p",
                "contentId": "a",
                "progress": 40,
            },
        ]
    }
    headers = learner | {"Idempotency-Key": "progress-1"}
    first = await api.client.post("/v1/progress?wait=20", json=report, headers=headers)
    api.clock.advance(timedelta(days=1))  # the same report, retried a day later
    try:
        second = await api.client.post("/v1/progress?wait=20", json=report, headers=headers)
    finally:
        api.clock.set(NOW)
    assert (first.status_code, second.status_code) == (200, 200), second.text
    assert first.json()["ids"] == second.json()["ids"]
    [doc] = second.json()["documents"]
    [content] = doc["facts"]["contents"]
    assert [parse_time(t) for t in content["progress"]] == [NOW], "one fact, of the first day"
