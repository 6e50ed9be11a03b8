"""What every fault scenario runs on: the stack context, fresh environments, a fleet of service
processes, and the exact check of documents and certificate ids at the end."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from devstack import LocalStack
from testkit.expect import assert_documents_exact, assert_status_events, certificate_ids_of
from testkit.harness import Env, ServiceProcess, caught_up, read_all, read_docs
from testkit.streams import Stream
from testkit.world import World

__all__ = [
    "BROKER_MAX_BYTES",
    "SERVICE_ENV",
    "SESSION_TIMEOUT_S",
    "Ctx",
    "Event",
    "Fleet",
    "RunResult",
    "Scenario",
    "learners",
    "new_env",
    "pending_outbox",
    "retries_logged",
    "split",
    "verify",
    "vm_hwm_kib",
]

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
    published_elsewhere: tuple[str, ...] = (),
    statuses: bool = False,
    settle_s: float = 15,
) -> None:
    """Caught up, outbox drained, documents exact (retried for `settle_s` while the idle
    recount of the batch counts lands), certificate ids exact as a set, repeats counted
    (`published_elsewhere`: ids read from another cluster the run used before)."""
    try:
        await caught_up(env, caught_up_s)
    except AssertionError as exc:  # checked below all the same: what is missing, what is not
        result.problems.append(f"not caught up after {caught_up_s:.0f} s: {exc}"[:300])
    if left := await wait_outbox_empty(env):
        result.problems.append(f"{left} documents still have unpublished certificate events")
    deadline = time.monotonic() + settle_s
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
    ids += published_elsewhere
    want = expected.certificate_ids()
    result.expected, result.received = len(want), len(ids)
    result.repeats = len(ids) - len(set(ids))
    result.missing, result.extra = len(want - set(ids)), len(set(ids) - want)
    if statuses:
        await _check_statuses(env, expected, result)
    if dead_letters == 0:
        result.dead_letters = len(await read_all(env.kafka, env.topics.dlq, timeout_s=1))
        if result.dead_letters:
            result.problems.append(f"{result.dead_letters} unexpected dead letters")


async def _check_statuses(env: Env, expected: World, result: RunResult) -> None:
    """Enrolment-status ids: exactly those the documents latched, every current one there."""
    records = await read_all(env.kafka, env.topics.enrolment_status, timeout_s=2)
    ids = certificate_ids_of(records)
    result.notes.append(f"statuses: {len(set(ids))} ids, {len(ids) - len(set(ids))} repeats")
    try:
        assert_status_events(ids, await read_docs(env), expected)
    except AssertionError as exc:
        result.problems.append(f"enrolment statuses: {exc}"[:300])


def retries_logged(*svcs: ServiceProcess) -> int:
    return sum(svc.log().count('"retrying"') for svc in svcs)
