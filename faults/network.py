"""Network faults: toxiproxy between the service and its servers cuts, slows and half-opens
its connections while it folds. One process rides every fault out by itself (no restart), and
the end is exact: documents, certificate ids, nothing lost, nothing doubled.

Only the service goes through the proxies; the suite (publishing, checking) talks to the
servers directly, so facts keep arriving while the service is cut off. Kafka tells clients to
reconnect to the broker's advertised address, which would leave the proxy behind: a Kafka-only
second cluster is started whose PROXIED listener advertises the proxy's port (devstack's
`kafka_proxy_port`). MongoDB (FerretDB) is reached through its proxy with directConnection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from devstack import LocalStack
from faults.netproxy import Toxiproxy, ToxiproxyServer
from faults.runner import Ctx, Event, Fleet, RunResult, learners, split, verify
from testkit.harness import Env, ServiceProcess, http_address, publish
from testkit.streams import generate_stream

__all__ = [
    "net_half_open",
    "net_kafka_cut",
    "net_latency",
    "net_mongo_cut",
    "proxied",
    "proxied_cluster",
]

KAFKA, MONGO = "kafka", "mongo"
# Where the Kafka proxy points until the cluster behind it runs (discard: nothing answers).
_NOWHERE = "127.0.0.1:9"
# Log lines counted around each fault: the service's own events, and aiokafka's error lines
# (it logs every failed reconnection, about every 100 ms per client, while Kafka is away).
_MARKERS = {
    "retries": ('"retrying"',),
    "batches": ('"batch_done"',),
    "assigned": ('"partitions_assigned"',),
    "lost commits": ('"commit_lost_to_rebalance"',),
    "aiokafka errors": ('"level": "error"', '"logger": "aiokafka'),
}


@dataclass(frozen=True)
class Fault:
    """One network fault: held `hold_s` seconds while facts keep coming, then healed."""

    label: str
    hold_s: float
    inject: Callable[[Toxiproxy], AbstractAsyncContextManager[object]]
    must_notice: bool = False  # the service must log a retry before the fault is healed


@asynccontextmanager
async def proxied(
    ctx: Ctx, env: Env, seed: int, *, kafka: bool, mongo: bool
) -> AsyncIterator[Toxiproxy]:
    """toxiproxy between the service of `env` and Kafka and/or MongoDB (the service's
    BATCH_SERVICE_* addresses); `env.kafka` / `env.mongo` stay direct, for the suite."""
    async with proxied_cluster(ctx, env, seed, kafka=kafka, mongo=mongo) as (api, _):
        yield api


@asynccontextmanager
async def proxied_cluster(
    ctx: Ctx, env: Env, seed: int, *, kafka: bool, mongo: bool
) -> AsyncIterator[tuple[Toxiproxy, LocalStack | None]]:
    """`proxied`, with the Kafka-only cluster behind the Kafka proxy (None without `kafka`):
    a soak stops and starts that broker too."""
    server = ToxiproxyServer(ctx.log_dir / f"toxiproxy-{env.prefix.strip('-')}.log", seed=seed)
    await asyncio.to_thread(server.start)
    folder = Path(tempfile.mkdtemp(prefix="faults-net-kafka-"))
    cluster: LocalStack | None = None
    try:
        async with Toxiproxy(server.api) as api:
            if mongo:
                listen = await api.create(MONGO, _host_port(env.mongo))
                env.extra["BATCH_SERVICE_MONGODB_URI"] = _through(env.mongo, listen)
            if kafka:
                listen = await api.create(KAFKA, _NOWHERE)  # holds the port the broker advertises
                port = int(listen.rsplit(":", 1)[1])
                build = ctx.stack.layout.build_dir
                cluster = LocalStack(stack_dir=folder, build_dir=build, kafka_proxy_port=port)
                await _route_kafka(api, cluster, env, listen)
            yield api, cluster
    finally:
        try:
            if cluster is not None:
                await asyncio.to_thread(cluster.stop_kafka, False)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            await asyncio.to_thread(server.stop)


async def _route_kafka(api: Toxiproxy, cluster: LocalStack, env: Env, listen: str) -> None:
    """Start the Kafka-only cluster behind the proxy at `listen`: the service bootstraps
    there, the suite uses the cluster's own plain listener."""
    await asyncio.to_thread(cluster.start_kafka)
    upstream, direct = cluster.kafka_proxied_listener(), cluster.kafka_bootstrap()
    if upstream is None or direct is None:
        raise AssertionError("the Kafka cluster behind the proxy did not come up")
    await api.set_upstream(KAFKA, upstream)
    env.kafka = direct
    env.extra["BATCH_SERVICE_KAFKA_BOOTSTRAP"] = listen


def _host_port(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.hostname}:{parts.port or 27017}"


def _through(uri: str, listen: str) -> str:
    """`uri` with its host replaced by the proxy's address, connecting to it directly."""
    parts = urlsplit(uri)
    login = parts.netloc.rpartition("@")[0]
    query = "&".join(q for q in (parts.query, "directConnection=true") if q)
    return urlunsplit(parts._replace(netloc=f"{login}@{listen}" if login else listen, query=query))


async def ride_out(
    ctx: Ctx, env: Env, seed: int, name: str, faults: Sequence[Fault], *, kafka: bool, mongo: bool
) -> RunResult:
    """One service process; before each fault a share of the facts, during it another (the
    suite publishes directly), after the last the rest; then the exact check, and the same
    process must still run."""
    result = RunResult()
    stream = generate_stream(seed=seed, batches=2, learners=learners(ctx, 30))
    rules, facts = split(stream, seed)
    result.facts = len(rules) + len(facts)
    shares = 2 * len(faults) + 1
    chunks = [facts[i::shares] for i in range(shares)]
    rnd = random.Random(seed)
    async with (
        proxied(ctx, env, seed, kafka=kafka, mongo=mongo) as api,
        Fleet(ctx, env, result) as fleet,
    ):
        svc = fleet.start(name)
        await svc.wait_consuming(90)
        assert svc.proc is not None
        pid = svc.proc.pid
        await publish(env.kafka, env.prefix, rules)
        for k, fault in enumerate(faults):
            await publish(env.kafka, env.prefix, chunks[2 * k])
            await asyncio.sleep(rnd.uniform(0.05, 0.5))  # the service is folding
            await _inject(api, fault, fleet, svc, chunks[2 * k + 1])
        await publish(env.kafka, env.prefix, chunks[-1])
        await verify(env, stream.expected(), result)
        fleet.require_alive(svc, "the service did not survive the network faults")
        if svc.proc.pid != pid:
            result.problems.append("the service was restarted")
        result.notes.append(f"pid {pid} kept; in all {_said(_counts(svc))}")
        await fleet.stop_all(svc)
    return result


async def _inject(
    api: Toxiproxy, fault: Fault, fleet: Fleet, svc: ServiceProcess, during: list[Event]
) -> None:
    """Hold `fault` while `during` is published, then heal it; note what the service did."""
    result, before = fleet.result, _counts(svc)
    async with fault.inject(api):
        began = datetime.now(UTC)
        result.faults += 1
        await publish(fleet.env.kafka, fleet.env.prefix, during)
        await asyncio.sleep(fault.hold_s)
        seen = _delta(_counts(svc), before)
        noticed = _first_retry_s(svc, began)
        liveness = await _liveness(svc)
        fleet.require_alive(svc, f"the service exited during {fault.label}")
    first = "no retry" if noticed is None else f"first retry after {noticed:.1f} s"
    result.notes.append(f"{fault.label} ({fault.hold_s:.0f} s): {_said(seen)}; {first}; {liveness}")
    if fault.must_notice and noticed is None:
        result.problems.append(
            f"{fault.label}: no retry logged in {fault.hold_s:.0f} s: the service did not "
            "notice by itself (it would wait on a dead connection for ever)"
        )


def _first_retry_s(svc: ServiceProcess, since: datetime) -> float | None:
    """Seconds from `since` to the first retry the service logged after it, if any."""
    for line in svc.log().splitlines():
        if '"retrying"' in line:
            with contextlib.suppress(ValueError, KeyError):
                at = datetime.fromisoformat(json.loads(line)["timestamp"])
                if at >= since:
                    return (at - since).total_seconds()
    return None


async def _liveness(svc: ServiceProcess) -> str:
    """What /healthz says (its status and how long the consumer loop has been silent)."""
    try:
        async with httpx.AsyncClient(base_url=http_address(svc), timeout=3) as http:
            answer = await http.get("/healthz")
        silent = answer.json().get("loopSilentForS")
    except (httpx.HTTPError, ValueError, AssertionError) as exc:
        return f"/healthz unanswered ({type(exc).__name__})"
    return f"/healthz {answer.status_code} (loop silent {silent} s)"


def _counts(svc: ServiceProcess) -> dict[str, int]:
    lines = svc.log().splitlines()
    return {
        what: sum(all(m in line for m in markers) for line in lines)
        for what, markers in _MARKERS.items()
    }


def _delta(now: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {what: now[what] - before[what] for what in now}


def _said(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {what}" for what, n in counts.items())


@asynccontextmanager
async def _half_open(api: Toxiproxy, proxy: str) -> AsyncIterator[None]:
    """No data either way on every connection, present and new, none of them closed while it
    lasts (toxiproxy closes the ones it held when it is removed)."""
    async with api.timeout(proxy, 0, "upstream"), api.timeout(proxy, 0, "downstream"):
        yield


# --- the scenarios ------------------------------------------------------------------------------


async def net_kafka_cut(ctx: Ctx, env: Env, seed: int) -> RunResult:
    """Kafka cut twice while the service folds: refused (proxy disabled, connections closed)
    shorter than the session timeout, then reset (every connection RST on its next bytes)
    longer than it, so the group drops the member and it must rejoin."""
    quick = ctx.quick
    faults = [
        Fault("kafka refused", 4 if quick else 6, lambda api: api.cut_off(KAFKA)),
        Fault("kafka reset", 12 if quick else 15, lambda api: api.reset_peer(KAFKA)),
    ]
    return await ride_out(ctx, env, seed, "net-kafka-cut", faults, kafka=True, mongo=False)


async def net_mongo_cut(ctx: Ctx, env: Env, seed: int) -> RunResult:
    """MongoDB cut twice while the service folds: refused, then reset, each longer than the
    suite's mongo_timeout_ms (5 s), so writes in flight are lost with their answers."""
    quick = ctx.quick
    faults = [
        Fault("mongo refused", 6 if quick else 8, lambda api: api.cut_off(MONGO)),
        Fault("mongo reset", 8 if quick else 12, lambda api: api.reset_peer(MONGO)),
    ]
    return await ride_out(ctx, env, seed, "net-mongo-cut", faults, kafka=False, mongo=True)


async def net_latency(ctx: Ctx, env: Env, seed: int) -> RunResult:
    """Seconds of latency while the service works: on Kafka 1 s (jitter 0.25 s) each way, 2 s
    a round trip; then on MongoDB 1 s on its answers. Below every timeout: slower, exact."""
    hold = 12 if ctx.quick else 20

    @asynccontextmanager
    async def slow_kafka(api: Toxiproxy) -> AsyncIterator[None]:
        async with api.latency(KAFKA, 1, 0.25, "upstream"), api.latency(KAFKA, 1, 0.25):
            yield

    faults = [
        Fault("kafka latency", hold, slow_kafka),
        Fault("mongo latency", hold, lambda api: api.latency(MONGO, 1, 0.25)),
    ]
    return await ride_out(ctx, env, seed, "net-latency", faults, kafka=True, mongo=True)


async def net_half_open(ctx: Ctx, env: Env, seed: int) -> RunResult:
    """Connections that stay open but carry nothing (the `timeout` toxic, both ways): MongoDB
    for longer than mongo_timeout_ms (which must notice it), then Kafka for longer than the
    session timeout (quick) or than the clients' request timeouts of 30 and 40 s (full)."""
    faults = [
        Fault("mongo half-open", 10 if ctx.quick else 15, lambda a: _half_open(a, MONGO), True),
        Fault("kafka half-open", 15 if ctx.quick else 45, lambda a: _half_open(a, KAFKA)),
    ]
    return await ride_out(ctx, env, seed, "net-half-open", faults, kafka=True, mongo=True)
