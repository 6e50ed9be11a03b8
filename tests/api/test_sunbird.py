"""Sunbird compatibility: requests shaped as in Sunbird lms-service's documentation, sent to
our routes; the envelope, the numeric statuses and the error codes a Sunbird client expects."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Any

import httpx

from tests.api.conftest import ADMIN, Api, fresh, token

COURSE = "do_2131"


def user(sub: str, *roles: str) -> dict[str, str]:
    """Sunbird clients send the user's token in `x-authenticated-user-token`."""
    return {"x-authenticated-user-token": token(sub, *roles)}


def envelope(
    response: httpx.Response, api_id: str, status: int, err: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["id"] == api_id and body["ver"] == "v1" and body["ts"]
    assert body["params"]["err"] == err and body["params"]["msgid"]
    assert body["params"]["status"] == ("success" if err is None else err)
    codes = {200: "OK", 400: "CLIENT_ERROR", 401: "UNAUTHORIZED", 404: "RESOURCE_NOT_FOUND"}
    assert body["responseCode"] == codes[status]
    return body


async def _until_readable(api: Api, batch_id: str) -> dict[str, Any]:
    for _ in range(100):
        response = await api.client.get(
            f"/v1/course/batch/read/{batch_id}", headers=user("mentor-9")
        )
        if response.status_code == 200:
            return envelope(response, "api.course.batch.read", 200)["result"]["response"]
        await asyncio.sleep(0.1)
    raise AssertionError(f"batch {batch_id} never became readable")


async def _create(api: Api, **fields: Any) -> httpx.Response:
    """Sunbird's batch create, by an admin mentor: an open batch of COURSE from 2026-05-01 to
    2026-08-31 unless `fields` say otherwise."""
    request = {
        "courseId": COURSE,
        "name": "a batch",
        "enrollmentType": "open",
        "startDate": "2026-05-01",
        "endDate": "2026-08-31",
        **fields,
    }
    return await api.client.post(
        "/v1/course/batch/create", json={"request": request}, headers=user("mentor-9", "admin")
    )


async def test_a_sunbird_client_runs_its_whole_flow_against_us(api: Api) -> None:
    await api.course(COURSE, ("do_1", "do_2"))
    created = await _create(
        api,
        name="Sunbird batch",
        description="kept by Sunbird, ignored by us",
        enrollmentEndDate="2026-07-31",
        createdFor=["0126796199493140480"],
        mentors=["mentor-9"],
    )
    batch_id = envelope(created, "api.course.batch.create", 200)["result"]["batchId"]
    assert created.json()["result"]["response"] == "SUCCESS"
    batch = await _until_readable(api, batch_id)
    assert (batch["batchId"], batch["courseId"], batch["status"]) == (batch_id, COURSE, 1)

    found = await api.client.post(
        "/v1/course/batch/search",
        json={"request": {"filters": {"courseId": COURSE, "status": 1}, "limit": 10}},
        headers=user("mentor-9"),
    )
    content = envelope(found, "api.course.batch.search", 200)["result"]["response"]["content"]
    assert batch_id in [b["batchId"] for b in content]

    enrol = {"request": {"courseId": COURSE, "batchId": batch_id, "userId": "learner-9"}}
    ok = await api.client.post("/v1/course/enroll", json=enrol, headers=user("learner-9"))
    assert envelope(ok, "api.course.enroll", 200)["result"]["response"] == "SUCCESS"
    for _ in range(100):
        again = await api.client.post("/v1/course/enroll", json=enrol, headers=user("learner-9"))
        if again.status_code == 400:
            break
        await asyncio.sleep(0.1)
    envelope(again, "api.course.enroll", 400, "USER_ALREADY_ENROLLED_COURSE")

    update = {
        "request": {
            "userId": "learner-9",
            "contents": [
                {
                    "contentId": c,
                    "courseId": COURSE,
                    "batchId": batch_id,
                    "status": 2,
                    "progress": 100,
                    "lastAccessTime": "2026-06-01 10:00:00:000+0000",
                }
                for c in ("do_1", "do_2")
            ],
        }
    }
    updated = await api.client.patch(
        "/v1/content/state/update", json=update, headers=user("learner-9")
    )
    assert envelope(updated, "api.content.state.update", 200)["result"] == {
        "do_1": "SUCCESS",
        "do_2": "SUCCESS",
    }

    for _ in range(100):
        listed = await api.client.get("/v1/user/courses/list/learner-9", headers=user("learner-9"))
        courses = envelope(listed, "api.user.courses.list", 200)["result"]["courses"]
        mine = [c for c in courses if c["batchId"] == batch_id]
        if mine and mine[0]["status"] == 2:
            break
        await asyncio.sleep(0.1)
    assert mine[0]["completionPercentage"] == 100.0 and mine[0]["active"] is True
    assert mine[0]["contentStatus"] == {"do_1": 2, "do_2": 2}
    states = await api.client.post(
        "/v1/content/state/read",
        json={
            "request": {
                "userId": "learner-9",
                "courseId": COURSE,
                "batchId": batch_id,
                "contentIds": ["do_1"],
            }
        },
        headers=user("learner-9"),
    )
    assert [
        (c["contentId"], c["status"], c["lastAccessTime"], c["lastCompletedTime"])
        for c in envelope(states, "api.content.state.read", 200)["result"]["contentList"]
    ] == [("do_1", 2, "2026-06-01 10:00:00:000+0000", "2026-06-01 10:00:00:000+0000")]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}:\d{3}\+0000", mine[0]["enrolledDate"])

    people = await api.client.post(
        "/v1/batch/participants/list",
        json={"request": {"batch": {"batchId": batch_id, "active": True}}},
        headers=user("mentor-9"),
    )
    assert envelope(people, "api.batch.participants.list", 200)["result"]["batch"] == {
        "count": 1,
        "participants": ["learner-9"],
    }

    leave = await api.client.post("/v1/course/unenroll", json=enrol, headers=user("learner-9"))
    envelope(leave, "api.course.unenroll", 400, "COURSE_BATCH_ALREADY_COMPLETED")


async def test_sunbird_error_codes_for_the_usual_mistakes(api: Api) -> None:
    unknown = {"request": {"courseId": COURSE, "batchId": "no-such-batch", "userId": "u"}}
    envelope(
        await api.client.post("/v1/course/enroll", json=unknown, headers=user("u")),
        "api.course.enroll",
        400,
        "INVALID_COURSE_BATCH_ID",
    )
    elsewhere = fresh("sb-other-course")
    await api.create(elsewhere)  # of course-1, not COURSE
    wrong_course = {"request": {"courseId": COURSE, "batchId": elsewhere, "userId": "u"}}
    envelope(  # Sunbird finds a batch by its course and its id
        await api.client.post("/v1/course/enroll", json=wrong_course, headers=user("u")),
        "api.course.enroll",
        400,
        "INVALID_COURSE_BATCH_ID",
    )
    missing = await api.client.post(
        "/v1/course/batch/create", json={"request": {"name": "x"}}, headers=user("a", "admin")
    )
    body = envelope(missing, "api.course.batch.create", 400, "MANDATORY_PARAMETER_MISSING")
    errmsg = body["params"]["errmsg"]  # Sunbird's words, naming the field
    assert errmsg.startswith("Mandatory parameter ") and errmsg.endswith(" is missing."), errmsg
    for wrong, code in (
        ({"endDate": "2026-04-30"}, "END_DATE_ERROR"),
        ({"enrollmentEndDate": "2026-04-30"}, "ENROLLMENT_END_DATE_START_ERROR"),
        (
            {"endDate": "2026-06-30", "enrollmentEndDate": "2026-07-01"},
            "ENROLLMENT_END_DATE_END_ERROR",
        ),
    ):
        envelope(await _create(api, **wrong), "api.course.batch.create", 400, code)
    for blank in ("", "   "):  # Sunbird's mandatory parameters must not be blank either
        body = envelope(
            await _create(api, name=blank),
            "api.course.batch.create",
            400,
            "MANDATORY_PARAMETER_MISSING",
        )
        assert body["params"]["errmsg"] == "Mandatory parameter name is missing.", body
    not_wrapped = await api.client.post(
        "/v1/course/batch/create", json={"name": "x"}, headers=user("a", "admin")
    )
    envelope(not_wrapped, "api.course.batch.create", 400, "MANDATORY_PARAMETER_MISSING")
    envelope(
        await api.client.get("/v1/course/batch/read/x"),
        "api.course.batch.read",
        401,
        "UNAUTHORIZED_USER",
    )

    batch_id = fresh("sb")
    await api.create(batch_id, enrollmentEndDate="2026-05-15")  # enrolment closed at NOW
    late = {"request": {"courseId": "course-1", "batchId": batch_id, "userId": "late"}}
    envelope(
        await api.client.post("/v1/course/enroll", json=late, headers=user("late")),
        "api.course.enroll",
        400,
        "COURSE_BATCH_ENROLLMENT_DATE_ENDED",
    )
    someone = {"request": {"id": batch_id, "courseId": "course-1", "name": "renamed"}}
    envelope(
        await api.client.patch("/v1/course/batch/update", json=someone, headers=user("stranger")),
        "api.course.batch.update",
        401,
        "UNAUTHORIZED_USER",
    )
    other_course = {"request": {"id": batch_id, "courseId": COURSE, "name": "moved"}}
    envelope(  # as on enrolment, Sunbird finds the batch by its course and its id
        await api.client.patch(
            "/v1/course/batch/update", json=other_course, headers=user("a", "admin")
        ),
        "api.course.batch.update",
        400,
        "INVALID_COURSE_BATCH_ID",
    )
    moved = {"request": {"id": batch_id, "courseId": "course-1", "startDate": "2026-05-20"}}
    envelope(
        await api.client.patch("/v1/course/batch/update", json=moved, headers=user("a", "admin")),
        "api.course.batch.update",
        400,
        "INVALID_BATCH_START_DATE_ERROR",
    )
    same_start = {
        "request": {"id": batch_id, "courseId": "course-1", "startDate": "2026-05-01", "name": "ok"}
    }
    envelope(
        await api.client.patch(
            "/v1/course/batch/update", json=same_start, headers=user("a", "admin")
        ),
        "api.course.batch.update",
        200,
    )
    ended = fresh("sb-ended")
    await api.create(
        ended, startDate="2026-04-01", endDate="2026-05-01", enrollmentType="invite-only"
    )
    own_ended = {"request": {"courseId": "course-1", "batchId": ended, "userId": "me"}}
    envelope(  # Sunbird checks the enrolment type before whether the batch is over
        await api.client.post("/v1/course/enroll", json=own_ended, headers=user("me")),
        "api.course.enroll",
        400,
        "ENROLLMENT_TYPE_VALIDATION",
    )
    by_admin = {"request": {"courseId": "course-1", "batchId": ended, "userId": "me"}}
    envelope(
        await api.client.post("/v1/course/enroll", json=by_admin, headers=user("a", "admin")),
        "api.course.enroll",
        400,
        "COURSE_BATCH_ALREADY_COMPLETED",
    )
    invite = fresh("sb-invite")
    await api.create(invite, enrollmentType="invite-only")
    own = {"request": {"courseId": "course-1", "batchId": invite, "userId": "me"}}
    envelope(
        await api.client.post("/v1/course/enroll", json=own, headers=user("me")),
        "api.course.enroll",
        400,
        "ENROLLMENT_TYPE_VALIDATION",
    )
    leave = {"request": {"courseId": "course-1", "batchId": batch_id, "userId": "never"}}
    envelope(
        await api.client.post("/v1/course/unenroll", json=leave, headers=user("never")),
        "api.course.unenroll",
        400,
        "USER_NOT_ENROLLED_COURSE",
    )


async def test_a_search_counts_every_matching_batch_and_answers_a_page_of_them(api: Api) -> None:
    """Sunbird's `count` is the total Elasticsearch found, `content` at most `limit` of them
    from `offset`; filters come as a value or a list, a status as a number or a string (the
    portal sends `"status": ["0", "1"]`)."""
    course = fresh("sb-course")
    ongoing = sorted(fresh("sb-count") for _ in range(3))
    for batch_id in ongoing:
        await api.create(batch_id, courseId=course)
    later = fresh("sb-later")
    await api.create(later, courseId=course, startDate="2026-07-01")  # upcoming
    invite = fresh("sb-invite")
    await api.create(invite, courseId=course, enrollmentType="invite-only")  # ongoing

    async def search(**request: Any) -> tuple[int, list[str]]:
        found = await api.client.post(
            "/v1/course/batch/search", json={"request": request}, headers=user("a", "admin")
        )
        answer = envelope(found, "api.course.batch.search", 200)["result"]["response"]
        return answer["count"], [b["batchId"] for b in answer["content"]]

    open_now = {"courseId": course, "status": 1, "enrollmentType": "open"}
    assert await search(filters=open_now, limit=2) == (3, ongoing[:2])
    assert await search(filters=open_now, limit=2, offset=2) == (3, ongoing[2:])
    assert await search(filters=open_now) == (3, ongoing)
    listed = {"courseId": [course], "status": ["0", "1"], "enrollmentType": ["open"]}
    assert await search(filters=listed) == (4, sorted([*ongoing, later]))
    assert await search(filters={"courseId": course, "status": "1"}) == (
        4,
        sorted([*ongoing, invite]),
    )
    assert await search(filters={"courseId": course, "status": [5]}) == (0, [])
    assert await search(filters=open_now, limit=0) == (3, [])  # the count only, as in ES


async def test_a_write_answers_once_it_is_applied(api: Api) -> None:
    """Sunbird writes before it answers: a client enrols in the batch it just created, and
    reads its progress at once (no content yet: an empty list, not an error)."""
    created = await _create(api, name="at once")
    batch_id = envelope(created, "api.course.batch.create", 200)["result"]["batchId"]
    read = await api.client.get(f"/v1/course/batch/read/{batch_id}", headers=user("mentor-9"))
    envelope(read, "api.course.batch.read", 200)
    state = {"request": {"userId": "fresh-9", "courseId": COURSE, "batchId": batch_id}}
    before = await api.client.post("/v1/content/state/read", json=state, headers=user("fresh-9"))
    assert envelope(before, "api.content.state.read", 200)["result"]["contentList"] == []
    enrol = {"request": {"courseId": COURSE, "batchId": batch_id, "userId": "fresh-9"}}
    ok = await api.client.post("/v1/course/enroll", json=enrol, headers=user("fresh-9"))
    envelope(ok, "api.course.enroll", 200)
    again = await api.client.post("/v1/course/enroll", json=enrol, headers=user("fresh-9"))
    envelope(again, "api.course.enroll", 400, "USER_ALREADY_ENROLLED_COURSE")

    async def listed() -> list[str]:
        found = []
        for version in ("v1", "v2"):  # newer Sunbird clients call v2
            answer = await api.client.get(
                f"/{version}/user/courses/list/fresh-9", headers=user("fresh-9")
            )
            courses = envelope(answer, "api.user.courses.list", 200)["result"]["courses"]
            found.append([c["batchId"] for c in courses])
        assert found[0] == found[1]
        return found[0]

    assert batch_id in await listed()
    before = api.clock.now()
    api.clock.advance(timedelta(seconds=1))  # the test's clock stands still: leave after
    try:
        left = await api.client.post("/v1/course/unenroll", json=enrol, headers=user("fresh-9"))
        envelope(left, "api.course.unenroll", 200)
    finally:
        api.clock.set(before)
    assert batch_id not in await listed()  # Sunbird lists the active enrolments only
    stay = {"request": {"courseId": COURSE, "batchId": batch_id, "userId": "stay-9"}}
    envelope(
        await api.client.post("/v1/course/enroll", json=stay, headers=user("stay-9")),
        "api.course.enroll",
        200,
    )
    for active, expected in ((True, ["stay-9"]), (False, ["fresh-9"])):
        people = await api.client.post(
            "/v1/batch/participants/list",
            json={"request": {"batch": {"batchId": batch_id, "active": active}}},
            headers=user("mentor-9", "admin"),
        )
        found = envelope(people, "api.batch.participants.list", 200)["result"]["batch"]
        assert found == {"count": len(expected), "participants": expected}


async def test_without_authentication_sunbird_callers_are_limited_by_address(
    open_api: Api,
) -> None:
    """As on the native routes: with authentication disabled every call is the same admin, so
    the rate limit counts per client address, not one bucket for everyone."""
    async with open_api.client_from("10.0.0.1") as busy, open_api.client_from("10.0.0.2") as other:
        for _ in range(30):
            answer = await busy.get("/v1/course/batch/read/none")
            envelope(answer, "api.course.batch.read", 400, "INVALID_COURSE_BATCH_ID")
        limited = await busy.get("/v1/course/batch/read/none")
        assert limited.status_code == 429 and limited.json()["params"]["err"] == "TOO_MANY_REQUESTS"
        calm = await other.get("/v1/course/batch/read/none")
        envelope(calm, "api.course.batch.read", 400, "INVALID_COURSE_BATCH_ID")


async def test_an_assessment_is_scored_from_the_players_assess_events(api: Api) -> None:
    """Sunbird's player sends an attempt's ASSESS telemetry, not its totals: per question the
    latest answer (by `ets`) counts, summed, as Sunbird's assessment aggregator adds them up."""
    batch_id = fresh("sb-assess")
    await api.create(batch_id)
    enrol = {"request": {"courseId": "course-1", "batchId": batch_id, "userId": "quiz-9"}}
    envelope(
        await api.client.post("/v1/course/enroll", json=enrol, headers=user("quiz-9")),
        "api.course.enroll",
        200,
    )

    def assess(question: str, score: float, top: float, ets: int) -> dict[str, Any]:
        return {
            "eid": "ASSESS",
            "ets": ets,
            "edata": {"score": score, "item": {"id": question, "maxscore": top}},
        }

    attempt = {
        "assessmentTs": 1780315200000,  # 2026-06-01T12:00:00Z
        "courseId": "course-1",
        "batchId": batch_id,
        "userId": "quiz-9",
        "attemptId": "attempt-1",
        "contentId": "quiz-1",
        "events": [
            assess("q1", 0, 1, 1),
            assess("q1", 1, 1, 2),  # answered again: this one counts
            assess("q2", 0, 2, 3),
            {"eid": "INTERACT", "edata": {}},  # not an answer
        ],
    }
    update = {"request": {"userId": "quiz-9", "assessments": [attempt]}}
    answered = await api.client.patch(
        "/v1/content/state/update", json=update, headers=user("quiz-9")
    )
    assert envelope(answered, "api.content.state.update", 200)["result"] == {"attempt-1": "SUCCESS"}
    learner = await api.client.get(f"/v1/batches/{batch_id}/enrolments/quiz-9", headers=ADMIN)
    assert learner.status_code == 200, learner.text
    assert learner.json()["scorePercentage"] == 100 * 1 / 3  # 1 of 3 (the course lists none)


async def test_a_sunbird_path_no_route_serves_answers_in_the_envelope(api: Api) -> None:
    """As Sunbird's router answers: 404 RESOURCE_NOT_FOUND, for an unknown path under its
    prefixes and for a method its route does not take (`errmsg` names the one it takes)."""
    unknown = await api.client.post("/v1/course/batch/reed", json={}, headers=ADMIN)
    body = envelope(unknown, "api.error", 404, "RESOURCE_NOT_FOUND")
    assert body["params"]["errmsg"] == "POST /v1/course/batch/reed: no such API"
    wrong_method = await api.client.get("/v1/course/enroll", headers=ADMIN)
    body = envelope(wrong_method, "api.error", 404, "RESOURCE_NOT_FOUND")
    assert body["params"]["errmsg"] == "GET /v1/course/enroll: the path takes POST only"
    native = await api.client.get("/v1/batchez", headers=ADMIN)
    assert native.status_code == 404 and native.json()["code"] == "not-found"


async def test_an_id_that_cannot_be_an_identifier_is_a_client_error_in_the_envelope(
    api: Api,
) -> None:
    """In the path: INVALID_PARAMETER_VALUE naming it. In a body: a 400 (FerretDB refuses to
    look a NUL up, MongoDB finds no such batch), never a 503 as if the database were down."""
    read = await api.client.get("/v1/course/batch/read/a%00b", headers=ADMIN)
    body = envelope(read, "api.course.batch.read", 400, "INVALID_PARAMETER_VALUE")
    assert body["params"]["errmsg"].startswith("Invalid value for batchId")
    listed = await api.client.post(
        "/v1/batch/participants/list",
        json={"request": {"batch": {"batchId": "a\u0000b"}}},
        headers=ADMIN,
    )
    assert listed.status_code == 400, listed.text
    assert listed.json()["params"]["err"] in ("INVALID_PARAMETER_VALUE", "INVALID_COURSE_BATCH_ID")


async def test_a_bad_state_update_is_refused_whole_naming_the_field_as_the_client_sent_it(
    api: Api,
) -> None:
    """Errors name `contents.N.x` / `assessments.N.x` (Sunbird's names, not our events'); a
    content status other than 0, 1 or 2, an item that is not an object, a time that is no
    instant, a progress that is no number: 400s, never taken as something else or a 500.
    Nothing of a refused update is published, its valid items neither."""
    batch_id = fresh("sb-bad-state")
    await api.create(batch_id)
    good = {"contentId": "a", "batchId": batch_id, "courseId": "course-1", "status": 2}
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"contents": [good, {"batchId": batch_id, "status": 2}]}, "MANDATORY_PARAMETER_MISSING",
         "Mandatory parameter contents.1.contentId is missing."),
        ({"contents": [{**good, "status": 3}]}, "INVALID_PARAMETER_VALUE",
         "Invalid value for contents.0.status: must be 0, 1 or 2"),
        ({"contents": [good, "a"]}, "INVALID_PARAMETER_VALUE",
         "Invalid value for contents.1: must be an object"),
        ({"contents": {"contentId": "a"}}, "INVALID_PARAMETER_VALUE",
         "Invalid value for contents: must be a list"),
        ({"contents": [{**good, "status": 1, "progress": "half"}]}, "INVALID_PARAMETER_VALUE",
         "Invalid value for contents.0.progress"),
        ({"contents": [{**good, "lastAccessTime": 1e20}]}, "INVALID_PARAMETER_VALUE",
         "Invalid value for contents.0.lastAccessTime"),
        ({"assessments": [{"contentId": "q", "batchId": batch_id, "attemptId": "t1",
                           "totalScore": 5}]}, "MANDATORY_PARAMETER_MISSING",
         "Mandatory parameter assessments.0.totalMaxScore is missing."),
        ({"assessments": [{"contentId": "q", "batchId": batch_id, "attemptId": "t1",
                           "events": []}]}, "MANDATORY_PARAMETER_MISSING",
         "Mandatory parameter assessments.0.events is missing."),
        ({"assessments": [{"contentId": "q", "batchId": batch_id, "attemptId": "t1",
                           "totalScore": 5, "totalMaxScore": 4}]}, "INVALID_PARAMETER_VALUE",
         "Invalid value for assessments.0.totalScore: Value error, score > maxScore"),
        ({"assessments": [{"batchId": batch_id, "attemptId": "t1", "totalScore": 1,
                           "totalMaxScore": 2}]}, "MANDATORY_PARAMETER_MISSING",
         "Mandatory parameter assessments.0.contentId is missing."),
    ]  # fmt: skip
    for request, code, message in cases:
        answer = await api.client.patch(
            "/v1/content/state/update",
            json={"request": {"userId": "state-9", **request}},
            headers=user("state-9"),
        )
        body = envelope(answer, "api.content.state.update", 400, code)
        assert body["params"]["errmsg"].startswith(message), (request, body["params"]["errmsg"])
    await asyncio.sleep(1)  # what a wrongly published item would need to be folded
    learner = await api.client.get(f"/v1/batches/{batch_id}/enrolments/state-9", headers=ADMIN)
    assert learner.status_code == 404, learner.text


async def test_a_state_read_naming_another_course_finds_no_consumption(api: Api) -> None:
    """Sunbird keys a learner's consumption by course, batch and user: the batch's states are
    not answered for a course that is not the batch's."""
    batch_id = fresh("sb-state-course")
    await api.create(batch_id)
    update = {"contentId": "a", "batchId": batch_id, "courseId": "course-1", "status": 1}
    envelope(
        await api.client.patch(
            "/v1/content/state/update",
            json={"request": {"userId": "reader-9", "contents": [update]}},
            headers=user("reader-9"),
        ),
        "api.content.state.update",
        200,
    )

    async def states(course_id: str) -> list[dict[str, Any]]:
        request = {"userId": "reader-9", "courseId": course_id, "batchId": batch_id}
        answer = await api.client.post(
            "/v1/content/state/read", json={"request": request}, headers=user("reader-9")
        )
        return envelope(answer, "api.content.state.read", 200)["result"]["contentList"]

    for _ in range(100):
        if await states("course-1"):
            break
        await asyncio.sleep(0.1)
    assert [(c["contentId"], c["status"]) for c in await states("course-1")] == [("a", 1)]
    assert await states("course-2") == []
