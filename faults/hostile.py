"""Hostile input at volume, and a message just under the broker's size limit."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from typing import Any

from aiokafka.record.default_records import DefaultRecordBatchBuilder

from faults.runner import (
    BROKER_MAX_BYTES,
    Ctx,
    Event,
    Fleet,
    RunResult,
    learners,
    split,
    verify,
    vm_hwm_kib,
)
from schemas.outbound import DlqHeader
from testkit.harness import Env, publish, read_all
from testkit.streams import generate_stream

# --- (7) hostile input at volume ---------------------------------------------------------------


ODD_VALID_IDS = ["$where", "a.b", "$gt", '{"$where": "1"}', "{$ne: 1}", "x:y", "élève 学生"]


def hostile_messages(
    rnd: random.Random, prefix: str, count: int, big: int, template: Event
) -> list[tuple[str, bytes | None, bytes | None]]:
    """(topic, key, value) of bad messages, keyed `bad-<i>-<kind>`."""
    topics = [
        "lms.progress.v1",
        "lms.content-completion.v1",
        "lms.enrolment.v1",
        "lms.assessment.v1",
        "lms.batch.v1",
        "lms.course.v1",
    ]
    valid = json.dumps(template).encode()

    def with_data(**over: Any) -> bytes:
        return json.dumps({**template, "data": {**template["data"], **over}}).encode()

    def deep(n: int) -> bytes:
        return b'{"a":' * n + b"1" + b"}" * n

    kinds: list[Callable[[], tuple[str, bytes | None]]] = [
        lambda: ("random", rnd.randbytes(rnd.randint(1, 4000))),
        lambda: ("truncated", valid[: rnd.randint(1, len(valid) - 1)]),
        lambda: ("deep-array", b"[" * 100_000 + b"]" * 100_000),
        lambda: ("deep-object", deep(rnd.choice([1000, 20_000]))),
        lambda: ("deep-in-data", with_data(extra=json.loads(deep(200)))),
        lambda: ("string-number", with_data(progress="50")),
        lambda: ("number-id", with_data(userId=rnd.randint(0, 10**6))),
        lambda: ("object-id", with_data(userId={"$gt": ""})),
        lambda: ("list-data", json.dumps({**template, "data": [1, 2]}).encode()),
        lambda: ("number-time", json.dumps({**template, "time": 1_700_000_000}).encode()),
        lambda: ("control-char-id", with_data(batchId="a\u0000b")),
        lambda: ("empty-id", with_data(contentId="")),
        lambda: ("long-id", with_data(userId="u" * 257)),
        lambda: ("progress-out-of-range", with_data(progress=rnd.choice([-1, 101, 1e308]))),
        lambda: ("not-an-object", b'"just a string"'),
        lambda: ("tombstone", None),
        lambda: ("nan", valid.replace(b'"progress": 100', b'"progress": NaN')),
    ]
    out: list[tuple[str, bytes | None, bytes | None]] = []
    for i in range(count):
        kind, value = rnd.choice(kinds)()
        topic = prefix + ("lms.progress.v1" if kind == "nan" else rnd.choice(topics))
        out.append((topic, f"bad-{i}-{kind}".encode(), value))
    for j in range(big):  # multi-MB values, above max_event_bytes (1 MiB), below 16 MB
        size = [2, 5, 9, 12, 3, 7, 11, 4][j % 8] * 1_000_000
        value = with_data(pad="x" * size)
        out.append((prefix + "lms.progress.v1", f"bad-big-{j}".encode(), value))
    return out


async def hostile_input(ctx: Ctx, env: Env, seed: int) -> RunResult:
    """Bad messages at volume mixed with a valid stream: every bad one dead-lettered with a
    reason, every valid one folded, the service never stops; peak RSS reported."""
    result = RunResult()
    rnd = random.Random(seed)
    stream = generate_stream(seed=seed, batches=2, learners=learners(ctx, 30))
    batch0 = stream.rules[1]["data"]["batchId"]
    leaf = stream.rules[0]["data"]["leafNodes"][0]
    for i, user in enumerate(ODD_VALID_IDS):  # operator-looking ids are valid and kept
        base = {"specversion": "1.0", "source": "faults", "time": "2026-01-03T10:00:00Z"}
        stream.facts.append(
            {**base, "id": f"odd-e{i}", "type": "enrolment.created"}
            | {"data": {"batchId": batch0, "userId": user}}
        )
        stream.facts.append(
            {**base, "id": f"odd-c{i}", "type": "content.progress"}
            | {"data": {"batchId": batch0, "userId": user, "contentId": leaf, "progress": 100}}
        )
    rules, facts = split(stream, seed)
    template = next(e for e in facts if e["type"] == "content.progress")
    template = {**template, "data": {**template["data"], "progress": 100}}
    bad = hostile_messages(
        rnd, env.prefix, 200 if ctx.quick else 1000, 3 if ctx.quick else 8, template
    )
    result.facts = len(rules) + len(facts) + len(bad)
    result.faults = len(bad)
    rounds = 4
    async with Fleet(ctx, env, result) as fleet:
        svc = fleet.start("hostile")
        await svc.wait_consuming()
        assert svc.proc is not None
        await publish(env.kafka, env.prefix, rules)
        for r in range(rounds):
            await publish(env.kafka, env.prefix, facts[r::rounds], bad[r::rounds])
            fleet.require_alive(svc, "the service stopped on hostile input")
        await verify(env, stream.expected(), result, dead_letters=len(bad))
        letters = await read_all(env.kafka, env.topics.dlq, timeout_s=3)
        result.dead_letters = len(letters)
        sent = {key: (topic, value) for topic, key, value in bad}
        got = {r.key: r for r in letters}
        if set(got) != set(sent) or len(letters) != len(bad):
            result.problems.append(
                f"dead letters: {len(set(sent) - set(got))} missing, "
                f"{len(set(got) - set(sent))} not bad, {len(letters) - len(got)} repeated"
            )
        for key, (topic, value) in sent.items():
            letter = got.get(key)
            if letter is None:
                continue
            headers = {k: v.decode() for k, v in letter.headers}
            if letter.value != value or headers.get(DlqHeader.SOURCE_TOPIC) != topic:
                result.problems.append(f"{key!r}: value or source topic changed")
            if not headers.get(DlqHeader.REASON):
                result.problems.append(f"{key!r}: no reason header")
        reasons = sorted(
            {dict(r.headers)[DlqHeader.REASON].decode().split(":")[0] for r in letters}
        )
        result.notes.append(f"hostile: reasons {reasons}")
        hwm = vm_hwm_kib(svc.proc.pid)
        result.notes.append(f"hostile: peak RSS (VmHWM) {hwm // 1024 if hwm else '?'} MiB")
        fleet.require_alive(svc, "the service stopped on hostile input")
        await fleet.stop_all(svc)
    return result


def near_limit_value(key: bytes, limit: int = BROKER_MAX_BYTES) -> bytes:
    """A JSON value whose record (with `key`, no headers) is just under `limit` bytes: the
    broker and a producer with max_request_size=limit accept it as it is."""
    pad = limit - 200
    while DefaultRecordBatchBuilder.estimate_size_in_bytes(key, _padded(pad + 1), []) <= limit - 8:
        pad += 1
    return _padded(pad)


def _padded(n: int) -> bytes:
    return b'{"pad":"' + b"x" * (n - 10) + b'"}'


async def near_limit_input(ctx: Ctx, env: Env, seed: int) -> RunResult:
    """A message the broker accepts, just under its 16 MiB limit, mixed with a valid stream:
    it must be dead-lettered (with its headers the copy is larger than the original), the
    valid stream folded, and the service must keep running."""
    result = RunResult()
    stream = generate_stream(seed=seed, batches=1, learners=learners(ctx, 15))
    rules, facts = split(stream, seed)
    key = b"bad-near-limit"
    value = near_limit_value(key)
    bad = [(env.prefix + "lms.progress.v1", key, value)]
    result.facts, result.faults = len(rules) + len(facts) + 1, 1
    result.notes.append(f"near-limit: a {len(value)}-byte value (broker limit {BROKER_MAX_BYTES})")
    async with Fleet(ctx, env, result) as fleet:
        svc = fleet.start("near-limit")
        await svc.wait_consuming()
        await publish(env.kafka, env.prefix, rules)
        await publish(env.kafka, env.prefix, facts[: len(facts) // 2], bad)
        await publish(env.kafka, env.prefix, facts[len(facts) // 2 :])
        await asyncio.sleep(3)
        fleet.require_alive(svc, "the service stopped on a message it could not dead-letter")
        await verify(env, stream.expected(), result, dead_letters=1, caught_up_s=60)
        letters = await read_all(env.kafka, env.topics.dlq, timeout_s=3)
        result.dead_letters = len(letters)
        if [r.key for r in letters] != [key]:
            result.problems.append(f"expected the one near-limit dead letter, got {len(letters)}")
        await fleet.stop_all(svc)
    return result
