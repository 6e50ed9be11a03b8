"""Every route of contract 9 doing what it says, through the real servers, `?wait=` included."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from schemas.types import format_time
from tests.api.conftest import ADMIN, Api, auth, batch_body, fresh


async def test_a_batch_is_created_read_updated_and_cancelled(api: Api) -> None:
    batch_id = fresh("b $.é")
    created = await api.client.post("/v1/batches", json=batch_body(batch_id), headers=ADMIN)
    assert created.status_code == 202
    assert created.json()["type"] == "batch.created" and created.json()["id"]
    assert created.headers["Location"] == f"/v1/batches/{quote(batch_id, safe='')}"
    path = f"/v1/batches/{quote(batch_id, safe='')}"
    read = await api.client.get(path, headers=ADMIN)
    for _ in range(100):  # no ?wait: the fold is not there yet, perhaps
        if read.status_code == 200:
            break
        await asyncio.sleep(0.1)
        read = await api.client.get(path, headers=ADMIN)
    assert read.status_code == 200 and read.json()["status"] == "ongoing"
    assert read.json()["createdBy"] == "admin-1"

    updated = await api.client.patch(
        f"{path}?wait=20", json={"endDate": "2026-09-30", "maximumCapacity": 10}, headers=ADMIN
    )
    assert updated.status_code == 200, updated.text
    assert (updated.json()["endDate"], updated.json()["maximumCapacity"]) == ("2026-09-30", 10)

    cancelled = await api.client.post(f"{path}/cancel?wait=20", json={"reason": "x"}, headers=ADMIN)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["cancelReason"] == "x"


async def test_a_creator_is_the_caller_unless_an_admin_names_one(api: Api) -> None:
    mine = await api.create(fresh("b"), headers=auth("teacher-7"), createdBy="someone-else")
    assert mine["createdBy"] == "teacher-7"
    named = await api.create(fresh("b"), createdBy="teacher-9")
    assert named["createdBy"] == "teacher-9"
    body = batch_body("x")
    del body["batchId"]
    made = await api.client.post("/v1/batches?wait=20", json=body, headers=ADMIN)
    assert made.status_code == 200 and made.json()["batchId"], "an id is generated"


async def test_batches_are_listed_by_course_and_status_a_page_at_a_time(api: Api) -> None:
    course = fresh("course")
    ids = sorted(fresh(f"list-{n}") for n in range(3))
    for batch_id in ids:
        await api.create(batch_id, courseId=course)
    future = fresh("list-future")
    await api.create(future, courseId=course, startDate="2026-07-01", endDate="2026-08-01")
    first = await api.client.get(f"/v1/batches?courseId={course}&limit=2", headers=ADMIN)
    assert first.status_code == 200
    page = first.json()
    assert [b["batchId"] for b in page["items"]] == sorted([*ids, future])[:2]
    rest = await api.client.get(
        f"/v1/batches?courseId={course}&limit=2&cursor={page['nextCursor']}", headers=ADMIN
    )
    assert [b["batchId"] for b in rest.json()["items"]] == sorted([*ids, future])[2:]
    upcoming = await api.client.get(f"/v1/batches?courseId={course}&status=upcoming", headers=ADMIN)
    assert [b["batchId"] for b in upcoming.json()["items"]] == [future]
    assert upcoming.json()["nextCursor"] is None
    # Contract 8: the API computes the status at read. The stored one (still `upcoming`: no
    # clock work ran) may lag any time behind, e.g. while only `batch-service api` runs.
    before = api.clock.now()
    api.clock.set(datetime(2026, 8, 2, 12, tzinfo=UTC))
    try:
        over = await api.client.get(
            f"/v1/batches?courseId={course}&status=completed", headers=ADMIN
        )
    finally:
        api.clock.set(before)
    assert [b["batchId"] for b in over.json()["items"]] == [future]


async def test_enrolments_participants_in_order_one_learner_and_a_learners_batches(
    api: Api,
) -> None:
    batch_id = fresh("seats")
    await api.create(batch_id, maximumCapacity=2, allowWaitlisting=True)
    path = f"/v1/batches/{batch_id}/enrolments"
    for user in ("u1", "u2", "u3", "u4"):
        answer = await api.client.post(f"{path}?wait=20", json={"userId": user}, headers=ADMIN)
        assert answer.status_code == 200, answer.text
        api.clock.advance(timedelta(minutes=1))
    listed = await api.client.get(path, headers=auth("mentor-1"))
    assert [
        (e["userId"], e["enrolmentStatus"], e["waitlistPosition"]) for e in listed.json()["items"]
    ] == [
        ("u1", "enrolled", None),
        ("u2", "enrolled", None),
        ("u3", "waitlisted", 1),
        ("u4", "waitlisted", 2),
    ]
    waiting = await api.client.get(f"{path}?status=waitlisted&limit=1", headers=ADMIN)
    assert [e["userId"] for e in waiting.json()["items"]] == ["u3"]
    after = await api.client.get(
        f"{path}?status=waitlisted&limit=1&cursor={waiting.json()['nextCursor']}", headers=ADMIN
    )
    assert [e["userId"] for e in after.json()["items"]] == ["u4"] and after.json()[
        "nextCursor"
    ] is None

    left = await api.client.delete(f"{path}/u1?wait=20", headers=auth("u1"))
    assert left.status_code == 200 and left.json()["enrolmentStatus"] == "not-enrolled"
    promoted = await api.client.get(f"{path}/u3", headers=auth("u3"))
    assert promoted.status_code == 200 and promoted.json()["enrolmentStatus"] == "enrolled"
    mine = await api.client.get("/v1/users/u3/enrolments", headers=auth("u3"))
    assert batch_id in [e["batchId"] for e in mine.json()["items"]]


async def test_a_learner_refused_for_a_full_batch_may_withdraw_the_request(api: Api) -> None:
    """Contract 7: a refused `batch-full` request stays open and is seated when a seat frees,
    so its learner may unenrol (withdraw it) like a waitlisted one."""
    batch_id = fresh("full")
    await api.create(batch_id, maximumCapacity=1)
    path = f"/v1/batches/{batch_id}/enrolments"
    seated = await api.client.post(f"{path}?wait=20", json={"userId": "a"}, headers=ADMIN)
    assert seated.status_code == 200 and seated.json()["enrolmentStatus"] == "enrolled"
    # The API refuses a full batch up front; another publisher's enrolment is folded.
    later = format_time(api.clock.now() + timedelta(seconds=1))  # a's request was made now
    await api.publish("enrolment.created", {"batchId": batch_id, "userId": "b"}, later)

    for _ in range(200):
        found = await api.client.get(f"{path}/b", headers=auth("b"))
        if found.status_code == 200 and found.json()["refusedReason"] == "batch-full":
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"b was never refused batch-full: {found.text}")
    before = api.clock.now()
    api.clock.advance(timedelta(seconds=2))  # the withdrawal comes after the request
    try:
        left = await api.client.delete(f"{path}/b?wait=20", headers=auth("b"))
        assert left.status_code == 200, left.text
        assert (left.json()["enrolmentStatus"], left.json()["request"]) == ("not-enrolled", None)
        freed = await api.client.delete(f"{path}/a?wait=20", headers=auth("a"))
        assert freed.status_code == 200
    finally:
        api.clock.set(before)
    after = await api.client.get(f"{path}/b", headers=auth("b"))
    assert after.json()["enrolmentStatus"] == "not-enrolled"  # withdrawn: not seated now


async def test_progress_with_wait_shows_the_certificate_the_fold_decided(api: Api) -> None:
    course = fresh("course")
    await api.course(course, ("a", "b"))
    batch_id = fresh("cert")
    await api.create(batch_id, courseId=course)
    enrolled = await api.client.post(
        f"/v1/batches/{batch_id}/enrolments?wait=20", json={"userId": "ada"}, headers=auth("ada")
    )
    assert enrolled.status_code == 200 and enrolled.json()["enrolled"] is True
    events = [
        {"type": "content.completed", "batchId": batch_id, "userId": "ada", "contentId": "a"},
        {
            "type": "content.progress",
            "batchId": batch_id,
            "userId": "ada",
            "contentId": "b",
            "progress": 100,
        },
    ]
    answer = await api.client.post(
        "/v1/progress?wait=20", json={"events": events}, headers=auth("ada")
    )
    assert answer.status_code == 200, answer.text
    [doc] = answer.json()["documents"]
    assert doc["progressStatus"] == 2 and doc["completionPercentage"] == 100.0
    assert [c["templateId"] for c in doc["certificates"]] == ["done"]
    assert len(answer.json()["ids"]) == 2


async def test_a_race_for_the_last_seat_is_decided_by_the_fold(api: Api) -> None:
    batch_id = fresh("race")
    await api.create(batch_id, maximumCapacity=1, allowWaitlisting=True)
    path = f"/v1/batches/{batch_id}/enrolments?wait=20"
    one, two = await asyncio.gather(
        api.client.post(path, json={"userId": "first"}, headers=auth("first")),
        api.client.post(path, json={"userId": "second"}, headers=auth("second")),
    )
    assert (one.status_code, two.status_code) == (200, 200), (one.text, two.text)
    outcomes = sorted([one.json()["enrolmentStatus"], two.json()["enrolmentStatus"]])
    assert outcomes in (["enrolled", "waitlisted"], ["enrolled", "enrolled"])
    final = await api.client.get(f"/v1/batches/{batch_id}", headers=ADMIN)
    assert (final.json()["enrolledCount"], final.json()["waitlistedCount"]) == (1, 1)
    listed = await api.client.get(f"/v1/batches/{batch_id}/enrolments", headers=ADMIN)
    assert [e["enrolmentStatus"] for e in listed.json()["items"]] == ["enrolled", "waitlisted"]


async def test_a_command_answers_202_at_once_without_wait(api: Api) -> None:
    batch_id = fresh("later")
    await api.create(batch_id)
    answer = await api.client.post(
        f"/v1/batches/{batch_id}/enrolments", json={"userId": "u"}, headers=ADMIN
    )
    assert answer.status_code == 202
    assert answer.json()["type"] == "enrolment.created"
    assert answer.headers["Location"] == f"/v1/batches/{batch_id}/enrolments/u"


async def test_a_wait_that_runs_out_before_the_fold_answers_202_with_the_event(api: Api) -> None:
    batch_id = fresh("short-wait")
    await api.create(batch_id)
    answer = await api.client.post(
        f"/v1/batches/{batch_id}/enrolments?wait=0.001", json={"userId": "u"}, headers=ADMIN
    )
    assert answer.status_code == 202, answer.text  # a fold takes a poll, far more than 1 ms
    assert answer.json()["type"] == "enrolment.created"
    assert answer.headers["Location"] == f"/v1/batches/{batch_id}/enrolments/u"
    later = await api.client.post(
        f"/v1/batches/{batch_id}/enrolments?wait=20", json={"userId": "v"}, headers=ADMIN
    )
    assert later.status_code == 200 and later.json()["userId"] == "v", later.text
