"""Fault scenarios: each runs real `batch-service run` processes, injects faults, waits until
the group has caught up, and checks the documents and certificate ids exactly."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka.record.default_records import DefaultRecordBatchBuilder
from pymongo import AsyncMongoClient

from devstack import LocalStack
from schemas.outbound import DlqHeader
from services.domain.world import World
from tests.e2e.expect import assert_documents_exact, certificate_ids_of
from tests.e2e.harness import Env, ServiceProcess, caught_up, publish, read_all, read_docs
from tests.streams import Stream, generate_stream

__all__ = ["SCENARIOS", "SERVICE_ENV", "Ctx", "RunResult", "Scenario", "new_env"]

Event = dict[str, Any]

# A stopped server must become retries, not an exit: retry for long enough, and bound every
# MongoDB operation so a stopped FerretDB turns into a retriable timeout quickly.
SERVICE_ENV = {
    "BATCH_SERVICE_RETRY_MAX_ELAPSED_S": "120",
    "BATCH_SERVICE_MONGO_TIMEOUT_MS": "5000",
    "BATCH_SERVICE_POLL_MAX_RECORDS": "200",  # more, smaller batches: more moments to hit
}
# aiokafka's default group session timeout (the service has no setting for it).
SESSION_TIMEOUT_S = 10.0
# The broker's message.max.bytes in the local stack (and the service's max_request_bytes).
BROKER_MAX_BYTES = 16_777_216


@dataclass
class Ctx:
    """Where the scenarios run: the stack they may stop and start, and its addresses."""

    stack: LocalStack
    kafka: str
    mongo: str
    log_dir: Path
    quick: bool = False

    def heal(self) -> None:
        """Start whichever server a failed scenario left stopped."""
        pids = self.stack.pids()
        if pids.get("kafka") is None:
            self.stack.start_kafka()
        if pids.get("mongo") is None:
            self.stack.start_mongo()


def new_env(ctx: Ctx, name: str, prefix: str | None = None, db: str | None = None) -> Env:
    """A service environment with its own topics, group and database."""
    tag = uuid.uuid4().hex[:8]
    return Env(
        ctx.kafka,
        ctx.mongo,
        prefix or f"f-{name}-{tag}-",
        db or f"faults_{tag}",
        **SERVICE_ENV,
    )


@dataclass
class RunResult:
    """What one run of a scenario saw."""

    facts: int = 0
    faults: int = 0
    docs_exact: bool | None = None
    expected: int = 0
    received: int = 0
    repeats: int = 0
    missing: int = 0
    extra: int = 0
    dead_letters: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.docs_exact) and not (self.missing or self.extra or self.problems)

    def summary(self) -> str:
        return (
            f"docs exact {self.docs_exact}; certificates expected {self.expected}, received "
            f"{self.received}, repeats {self.repeats}, missing {self.missing}, extra {self.extra}; "
            f"dead letters {self.dead_letters}; problems {self.problems}; notes {self.notes}"
        )


Scenario = Callable[[Ctx, Env, int], Awaitable[RunResult]]


class Fleet:
    """The service processes of one run; whatever is left is stopped on exit."""

    def __init__(self, ctx: Ctx, env: Env, result: RunResult) -> None:
        self.ctx, self.env, self.result = ctx, env, result
        self.procs: list[ServiceProcess] = []
        self.reported: set[int] = set()

    async def __aenter__(self) -> Fleet:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for svc in self.procs:
            if svc.proc is not None and svc.proc.poll() is None:
                svc.proc.send_signal(signal.SIGCONT)
                try:
                    await asyncio.to_thread(svc.terminate, 60)
                except subprocess.TimeoutExpired:
                    svc.kill()

    def start(self, name: str) -> ServiceProcess:
        svc = ServiceProcess(self.env, self.ctx.log_dir, name).start()
        self.procs.append(svc)
        return svc

    def require_alive(self, svc: ServiceProcess, why: str) -> None:
        assert svc.proc is not None
        code = svc.proc.poll()
        if code is not None:
            tail = _last_error(svc.log())
            if svc.proc.pid not in self.reported:
                self.reported.add(svc.proc.pid)
                self.result.problems.append(f"{why}: pid {svc.proc.pid} exited {code}; {tail}")

    async def stop_all(self, *svcs: ServiceProcess) -> None:
        """SIGTERM the survivors: each must finish its batch in hand and exit 0."""
        for svc in svcs:
            self.require_alive(svc, "service died during the run")
            assert svc.proc is not None
            if svc.proc.poll() is None:
                code = await asyncio.to_thread(svc.terminate, 60)
                if code != 0:
                    self.result.problems.append(f"exit code {code} after SIGTERM")


def _last_error(log: str) -> str:
    """The last line of a traceback (the exception), else the log's last line."""
    lines = [line for line in log.splitlines() if line.strip()]
    errors = [line for line in lines if not line.startswith((" ", "{", "Traceback"))]
    return (errors or lines or ["(empty log)"])[-1][:400]


def vm_hwm_kib(pid: int) -> int | None:
    """Peak resident set size of a process (VmHWM), in KiB."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def split(stream: Stream, seed: int) -> tuple[list[Event], list[Event]]:
    """The rules in order (published first), and the facts shuffled with 20 % duplicates."""
    rule_ids = {e["id"] for e in stream.rules}
    facts = [e for e in stream.shuffled(seed, duplicates=0.2) if e["id"] not in rule_ids]
    return list(stream.rules), facts


def learners(ctx: Ctx, full: int) -> int:
    return max(8, full // 3) if ctx.quick else full


async def _mongo(env: Env, call: Callable[[Any], Awaitable[Any]]) -> Any:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        env.mongo, serverSelectionTimeoutMS=5000
    )
    try:
        return await call(client[env.db]["enrolments"])
    finally:
        await client.close()


async def pending_outbox(env: Env) -> int:
    """How many enrolment documents hold certificate events not yet published."""
    return int(await _mongo(env, lambda c: c.count_documents({"hasOutbox": True})))


async def wait_outbox_empty(env: Env, timeout_s: float = 60) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        left = await pending_outbox(env)
        if not left or time.monotonic() > deadline:
            return left
        await asyncio.sleep(0.5)


async def verify(
    env: Env,
    expected: World,
    result: RunResult,
    *,
    dead_letters: int = 0,
    caught_up_s: float = 180,
) -> None:
    """Caught up, outbox drained, documents exact (retried briefly while the idle recount of
    the batch counts lands), certificate ids exact as a set, repeats counted."""
    try:
        await caught_up(env, caught_up_s)
    except AssertionError as exc:  # checked below all the same: what is missing, what is not
        result.problems.append(f"not caught up after {caught_up_s:.0f} s: {exc}"[:300])
    if left := await wait_outbox_empty(env):
        result.problems.append(f"{left} documents still have unpublished certificate events")
    deadline = time.monotonic() + 15
    while True:
        try:
            assert_documents_exact(await read_docs(env), expected)
            result.docs_exact = True
            break
        except AssertionError as exc:
            if time.monotonic() > deadline:
                result.docs_exact = False
                result.problems.append(f"documents: {exc}"[:500])
                break
            await asyncio.sleep(1)
    ids = certificate_ids_of(await read_all(env.kafka, env.topics.certificates, timeout_s=3))
    want = expected.certificate_ids()
    result.expected, result.received = len(want), len(ids)
    result.repeats = len(ids) - len(set(ids))
    result.missing, result.extra = len(want - set(ids)), len(set(ids) - want)
    if dead_letters == 0:
        result.dead_letters = len(await read_all(env.kafka, env.topics.dlq, timeout_s=1))
        if result.dead_letters:
            result.problems.append(f"{result.dead_letters} unexpected dead letters")


def retries_logged(*svcs: ServiceProcess) -> int:
    return sum(svc.log().count('"retrying"') for svc in svcs)


# --- (1) SIGKILL at random moments ------------------------------------------------------------


async def sigkill(ctx: Ctx, env: Env, seed: int) -> RunResult:
    """SIGKILL the only instance at random moments while it folds; restart it each time."""
    kills = 3 if ctx.quick else 5
    result = RunResult()
    stream = generate_stream(seed=seed, batches=3, learners=learners(ctx, 40))
    rules, facts = split(stream, seed)
    result.facts = len(rules) + len(facts)
    rnd = random.Random(seed)
    chunks = [facts[i :: kills + 1] for i in range(kills + 1)]
    async with Fleet(ctx, env, result) as fleet:
        await publish(env.kafka, env.prefix, rules)
        for k in range(kills):
            svc = fleet.start(f"sigkill{k}")
            await svc.wait_consuming(90)
            await publish(env.kafka, env.prefix, chunks[k])
            await asyncio.sleep(rnd.uniform(0.2, 2.5))
            svc.kill()
            result.faults += 1
        last = fleet.start("sigkill-last")
        await publish(env.kafka, env.prefix, chunks[kills])
        await verify(env, stream.expected(), result)
        await fleet.stop_all(last)
    return result


# --- (2) Kafka stopped and restarted under a running service ----------------------------------


async def kafka_restart(
    ctx: Ctx, env: Env, seed: int, modes: tuple[bool, ...] = (True, False)
) -> RunResult:
    """Stop Kafka (graceful, then SIGKILL) and start it again while the service runs: the same
    process waits, retries and resumes."""
    return await _server_restart(ctx, env, seed, "kafka", modes)


async def mongo_restart(
    ctx: Ctx, env: Env, seed: int, modes: tuple[bool, ...] = (True, False)
) -> RunResult:
    """Stop FerretDB (graceful, then SIGKILL) and start it again while the service runs."""
    return await _server_restart(ctx, env, seed, "mongo", modes)


async def _server_restart(
    ctx: Ctx, env: Env, seed: int, server: str, modes: tuple[bool, ...]
) -> RunResult:
    result = RunResult()
    stream = generate_stream(seed=seed, batches=2, learners=learners(ctx, 30))
    rules, facts = split(stream, seed)
    result.facts = len(rules) + len(facts)
    rnd = random.Random(seed)
    parts = [facts[i :: len(modes) + 1] for i in range(len(modes) + 1)]
    stop, start = (
        (ctx.stack.stop_kafka, ctx.stack.start_kafka)
        if server == "kafka"
        else (ctx.stack.stop_mongo, ctx.stack.start_mongo)
    )
    async with Fleet(ctx, env, result) as fleet:
        svc = fleet.start(f"{server}-restart")
        await svc.wait_consuming()
        assert svc.proc is not None
        pid = svc.proc.pid
        await publish(env.kafka, env.prefix, rules)
        for graceful, part in zip(modes, parts, strict=False):
            await publish(env.kafka, env.prefix, part)
            await asyncio.sleep(rnd.uniform(0.05, 0.5))  # the service is folding
            await asyncio.to_thread(stop, graceful)
            result.faults += 1
            await asyncio.sleep(6)  # down long enough for errors and retries
            fleet.require_alive(svc, f"the service exited while {server} was down")
            await asyncio.to_thread(start)
        await publish(env.kafka, env.prefix, parts[-1])
        await verify(env, stream.expected(), result)
        fleet.require_alive(svc, "the service did not survive")
        if svc.proc.pid != pid:
            result.problems.append("the service was restarted")
        result.notes.append(f"{server}: pid {pid} kept, {retries_logged(svc)} retries logged")
        await fleet.stop_all(svc)
    return result


# --- (4) instances killed and added in one group ----------------------------------------------


async def group_changes(ctx: Ctx, env: Env, seed: int, three: bool = True) -> RunResult:
    """Two instances; (with `three`) a third joins mid-stream; then one is SIGKILLed."""
    result = RunResult()
    stream = generate_stream(seed=seed, batches=3, learners=learners(ctx, 40))
    rules, facts = split(stream, seed)
    result.facts = len(rules) + len(facts)
    rnd = random.Random(seed)
    parts = [facts[i::3] for i in range(3)]
    async with Fleet(ctx, env, result) as fleet:
        a, b = fleet.start("group-a"), fleet.start("group-b")
        await asyncio.gather(a.wait_consuming(), b.wait_consuming())
        await publish(env.kafka, env.prefix, [*rules, *parts[0]])
        survivors = [b]
        if three:
            await asyncio.sleep(rnd.uniform(0.2, 1.5))
            c = fleet.start("group-c")
            survivors.append(c)
            result.faults += 1  # an instance added mid-stream
            await c.wait_consuming()
        await publish(env.kafka, env.prefix, parts[1])
        await asyncio.sleep(rnd.uniform(0.2, 1.5))
        a.kill()
        result.faults += 1
        await publish(env.kafka, env.prefix, parts[2])
        await verify(env, stream.expected(), result)
        await fleet.stop_all(*survivors)
    return result


# --- (5) the broker down right after documents were saved --------------------------------------


async def broker_down_after_save(ctx: Ctx, env: Env, seed: int) -> RunResult:
    """Kafka is SIGKILLed the moment a document with an unpublished certificate event is seen
    in MongoDB (saved, not yet announced); the outbox is relayed once Kafka is back."""
    result = RunResult()
    stream = generate_stream(seed=seed, batches=2, learners=learners(ctx, 40))
    rules, facts = split(stream, seed)
    result.facts = len(rules) + len(facts)
    async with Fleet(ctx, env, result) as fleet:
        svc = fleet.start("outbox")
        await svc.wait_consuming()
        await publish(env.kafka, env.prefix, [*rules, *facts])
        deadline = time.monotonic() + 120
        while not await pending_outbox(env):
            if time.monotonic() > deadline:
                raise AssertionError("no document with a pending certificate event appeared")
            await asyncio.sleep(0.02)
        await asyncio.to_thread(ctx.stack.stop_kafka, False)
        result.faults += 1
        await asyncio.sleep(6)
        pending = await pending_outbox(env)
        result.notes.append(f"outbox: {pending} documents pending while Kafka was down")
        fleet.require_alive(svc, "the service exited while Kafka was down")
        await asyncio.to_thread(ctx.stack.start_kafka)
        await verify(env, stream.expected(), result)
        await fleet.stop_all(svc)
    return result


# --- (6) slow consumer: SIGSTOP past the group session timeout ---------------------------------


async def slow_consumer(ctx: Ctx, env: Env, seed: int) -> RunResult:
    """Two instances; one is SIGSTOPped for longer than the session timeout while facts keep
    coming (the other takes its partitions), then SIGCONTed: nothing lost, nothing counted
    twice."""
    result = RunResult()
    stream = generate_stream(seed=seed, batches=3, learners=learners(ctx, 40))
    rules, facts = split(stream, seed)
    result.facts = len(rules) + len(facts)
    half = len(facts) // 2
    async with Fleet(ctx, env, result) as fleet:
        a, b = fleet.start("slow-a"), fleet.start("slow-b")
        await asyncio.gather(a.wait_consuming(), b.wait_consuming())
        await publish(env.kafka, env.prefix, [*rules, *facts[:half]])
        await asyncio.sleep(0.5)
        assert a.proc is not None
        a.proc.send_signal(signal.SIGSTOP)
        result.faults += 1
        try:
            await publish(env.kafka, env.prefix, facts[half:])
            await asyncio.sleep(SESSION_TIMEOUT_S + 5)
        finally:
            a.proc.send_signal(signal.SIGCONT)
        await verify(env, stream.expected(), result)
        lost = a.log().count('"commit_lost_to_rebalance"')
        result.notes.append(f"slow: {lost} commits dropped after SIGCONT (lost generation)")
        await fleet.stop_all(a, b)
    return result


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


async def retry_exhausted(ctx: Ctx, env: Env, seed: int) -> RunResult:
    """FerretDB down for longer than retry_max_elapsed_s (8 s here): the process exits non-zero
    (for its supervisor to restart it) with nothing committed past what was handled; a new
    process, once FerretDB is back, finishes exactly."""
    result = RunResult()
    env.extra["BATCH_SERVICE_RETRY_MAX_ELAPSED_S"] = "8"
    stream = generate_stream(seed=seed, batches=2, learners=learners(ctx, 20))
    rules, facts = split(stream, seed)
    result.facts = len(rules) + len(facts)
    half = len(facts) // 2
    async with Fleet(ctx, env, result) as fleet:
        first = fleet.start("exhausted")
        await first.wait_consuming()
        assert first.proc is not None
        await publish(env.kafka, env.prefix, [*rules, *facts[:half]])
        await asyncio.to_thread(ctx.stack.stop_mongo, False)
        result.faults += 1
        try:
            code = await asyncio.to_thread(first.proc.wait, 90)
        except subprocess.TimeoutExpired:
            code = None
            result.problems.append("still running 90 s after FerretDB stopped")
        result.notes.append(f"exhausted: exit code {code} with FerretDB down")
        if code == 0:
            result.problems.append("exited 0 although it gave up")
        await asyncio.to_thread(ctx.stack.start_mongo)
        second = fleet.start("after-exhausted")
        await publish(env.kafka, env.prefix, facts[half:])
        await verify(env, stream.expected(), result)
        await fleet.stop_all(second)
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


SCENARIOS: dict[str, Scenario] = {
    "sigkill": sigkill,
    "kafka-restart": kafka_restart,
    "mongo-restart": mongo_restart,
    "group-changes": group_changes,
    "broker-down-after-save": broker_down_after_save,
    "slow-consumer": slow_consumer,
    "hostile-input": hostile_input,
    "retry-exhausted": retry_exhausted,
    "near-limit-input": near_limit_input,
}
