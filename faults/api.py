"""The HTTP API under faults (issue 16): commands sent while Kafka is away answer 503, and a
client that repeats each with the same Idempotency-Key gets exactly one effect, whether or
not the first attempt reached Kafka in the end. Two instances serve and consume."""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any

import httpx

from faults.runner import Ctx, Fleet, RunResult, learners
from testkit.harness import Env, http_address, publish, read_all, read_docs

__all__ = ["api_outage"]

_COURSE = {
    "specversion": "1.0",
    "id": "api-faults-course",
    "source": "course-service",
    "time": "2026-01-01T00:00:00Z",
    "type": "course.published",
    "data": {"courseId": "c1", "leafNodes": ["l1"], "assessments": []},
}
_BATCH = {
    "batchId": "b1",
    "courseId": "c1",
    "name": "API under faults",
    "enrollmentType": "open",
    "startDate": "2026-01-01",
    "endDate": "2027-12-31",
}


async def api_outage(ctx: Ctx, env: Env, seed: int) -> RunResult:
    """Kafka stopped while clients enrol learners through the API: each call answers 503 (or
    202 if it got through first); once Kafka is back every client repeats its call with the
    same key until accepted, then once more. Each learner ends with one enrolment fact, one
    `enrolment.seated` event, and the event id the API named."""
    env.extra |= {
        "BATCH_SERVICE_API_AUTH": "disabled",
        "BATCH_SERVICE_KAFKA_REQUEST_TIMEOUT_MS": "4000",
    }
    result = RunResult()
    rnd = random.Random(seed)
    users = [f"user-{i}" for i in range(learners(ctx, 24))]
    result.facts = len(users) + 2
    async with Fleet(ctx, env, result) as fleet, httpx.AsyncClient(timeout=30) as client:
        live = [fleet.start("api-a"), fleet.start("api-b")]
        bases = [http_address(svc) for svc in live]
        for svc in live:
            await svc.wait_consuming(90)
        await publish(env.kafka, env.prefix, [_COURSE])
        answer = await client.post(f"{bases[0]}/v1/batches?wait=20", json=_BATCH)
        if answer.status_code != 200:
            result.problems.append(f"creating the batch: {answer.status_code} {answer.text}")
            return result
        await asyncio.to_thread(ctx.stack.stop_kafka, rnd.random() < 0.5)
        result.faults += 1
        try:
            first = await asyncio.gather(
                *(_enrol(client, rnd.choice(bases), user) for user in users)
            )
            codes = [status for status, _ in first]
            result.notes.append(f"during the outage: {codes.count(503)} answered 503")
            if 503 not in codes:
                result.problems.append("no command answered 503 while Kafka was stopped")
            if any(code not in (202, 503) for code in codes):
                result.problems.append(f"unexpected answers during the outage: {set(codes)}")
            ready = await client.get(f"{bases[0]}/readyz")
            if ready.status_code != 503:
                result.problems.append(f"/readyz answered {ready.status_code} without Kafka")
        finally:
            await asyncio.to_thread(ctx.stack.start_kafka)
        ids = dict(await asyncio.gather(*(_until_accepted(client, bases, u, rnd) for u in users)))
        again = await asyncio.gather(*(_enrol(client, rnd.choice(bases), u) for u in users))
        for user, (status, body) in zip(users, again, strict=True):
            if status != 202 or body.get("id") != ids[user]:
                result.problems.append(f"{user}: a repeat answered {status} {body}")
        await _check_once(env, users, ids, result)
        await fleet.stop_all(*live)
    return result


async def _enrol(client: httpx.AsyncClient, base: str, user: str) -> tuple[int, Any]:
    try:
        answer = await client.post(
            f"{base}/v1/batches/b1/enrolments",
            json={"userId": user},
            headers={"Idempotency-Key": f"enrol-{user}"},
        )
    except httpx.HTTPError as exc:
        return 0, {"error": repr(exc)}
    return answer.status_code, answer.json()


async def _until_accepted(
    client: httpx.AsyncClient, bases: list[str], user: str, rnd: random.Random
) -> tuple[str, str | None]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status, body = await _enrol(client, rnd.choice(bases), user)
        if status == 202:
            return user, body["id"]
        await asyncio.sleep(1)
    return user, None


async def _check_once(
    env: Env, users: list[str], ids: dict[str, str | None], result: RunResult
) -> None:
    """One enrolment fact per learner, the one the API named; one seated event each."""
    deadline = time.monotonic() + 120
    while True:
        docs = (await read_docs(env))["enrolments"]
        mine = {d["userId"]: d for d in docs.values() if d["batchId"] == "b1"}
        if len(mine) == len(users) and all(
            d["enrolmentStatus"] == "enrolled" for d in mine.values()
        ):
            break
        if time.monotonic() > deadline:
            result.problems.append(f"{len(mine)}/{len(users)} learners enrolled after 120 s")
            return
        await asyncio.sleep(1)
    for user in users:
        facts = [f["id"] for f in mine[user]["facts"]["enrolments"]]
        if facts != [ids[user]]:
            result.problems.append(f"{user}: enrolment facts {facts}, the API named {ids[user]}")
    seated = [
        json.loads(r.value)
        for r in await read_all(env.kafka, env.topics.enrolment_status, timeout_s=3)
    ]
    per_user: dict[str, set[str]] = {}
    for event in seated:
        per_user.setdefault(event["data"]["userId"], set()).add(event["id"])
    several = {u: sorted(i) for u, i in per_user.items() if len(i) != 1}
    if several or set(per_user) != set(users):
        result.problems.append(f"seated events: several ids {several}, users {len(per_user)}")
    result.expected = result.received = len(users)
    result.docs_exact = not result.problems
