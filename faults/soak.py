"""`make soak` (`python -m faults.soak`): several instances over a long stream for minutes,
with faults at seeded random moments, then the exact check.

Three `batch-service run` processes share a group; the suite publishes 100,000+ facts (20 %
duplicates, shuffled) at a steady pace over most of the run. Every 20-40 s (seeded) one fault
hits: an instance SIGKILLed (a new one started in its place), the broker or FerretDB stopped
and started again, or the network between the instances and Kafka or MongoDB cut, slowed or
half-opened (toxiproxy; the broker is a Kafka-only cluster advertised through its proxy, as
in `faults/network.py`). Every 5 s the group's lag and each instance's resident memory are
sampled. At the end: caught up, documents exact, certificate and enrolment-status ids exactly
once, no dead letter; a report (table, series, plot) in `build/soak/`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from devstack import LocalStack
from faults.__main__ import _context
from faults.netproxy import Toxiproxy
from faults.network import KAFKA, MONGO, proxied_cluster
from faults.runner import Ctx, Fleet, new_env, split, verify
from faults.soak_report import Sample, Soak, memory_verdict, plot, report
from testkit.harness import Env, ServiceProcess, publish
from testkit.streams import generate_stream

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "soak"


async def run_soak(ctx: Ctx, minutes: float, facts: int, instances: int, seed: int) -> Soak:
    soak = Soak(seed, minutes, instances=instances)
    env = new_env(ctx, "soak")
    env.extra |= {"BATCH_SERVICE_STATUS_REFRESH_S": "5"}
    stream = _stream(facts, seed)
    rules, shuffled = split(stream, seed)
    soak.facts = len(rules) + len(shuffled)
    rnd = random.Random(seed)
    started = time.monotonic()
    duration = minutes * 60
    async with proxied_cluster(ctx, env, seed, kafka=True, mongo=True) as (api, cluster):
        assert cluster is not None
        async with Fleet(ctx, env, soak.result) as fleet:
            live = [fleet.start(f"soak-{i}") for i in range(instances)]
            for svc in live:
                await svc.wait_consuming(120)
            await publish(env.kafka, env.prefix, rules)
            stop = asyncio.Event()
            tasks = [
                asyncio.create_task(_publish_paced(env, shuffled, duration * 0.8)),
                asyncio.create_task(_sample(env, live, soak, started, stop)),
            ]
            faults = asyncio.create_task(
                _inject(ctx, cluster, api, fleet, live, soak, rnd, started, duration)
            )
            await tasks[0]
            await faults
            done = time.monotonic()
            # Caught up, the idle work of thousands of learners (deferred outbox removals, the
            # recount of every batch) takes minutes on the local stack before counts are exact.
            await verify(
                env, stream.expected(), soak.result, caught_up_s=600, statuses=True, settle_s=240
            )
            soak.caught_up_s = time.monotonic() - done
            stop.set()
            await tasks[1]
            soak.result.faults = len(soak.faults)
            await fleet.stop_all(*live)
    soak.result.seconds = time.monotonic() - started
    return soak


def _stream(facts: int, seed: int) -> Any:
    """A stream of at least `facts` unique learner facts (10 batches)."""
    per_batch = 40
    while True:
        stream = generate_stream(seed=seed, batches=10, learners=per_batch)
        if len(stream.facts) >= facts:
            return stream
        per_batch = int(per_batch * facts / max(len(stream.facts), 1)) + 1


async def _publish_paced(env: Env, facts: list[Any], seconds: float) -> None:
    """The facts in chunks, evenly over `seconds` (a platform publishing as learners work)."""
    chunk = 500
    pause = seconds / max(1, len(facts) // chunk)
    for i in range(0, len(facts), chunk):
        while True:  # the broker may be stopped by a fault: publish again (more duplicates)
            try:
                await asyncio.wait_for(publish(env.kafka, env.prefix, facts[i : i + chunk]), 60)
                break
            except (KafkaError, OSError, TimeoutError):
                await asyncio.sleep(2)
        await asyncio.sleep(pause)


Fault = Callable[[], Awaitable[str]]


async def _inject(
    ctx: Ctx,
    cluster: LocalStack,
    api: Toxiproxy,
    fleet: Fleet,
    live: list[ServiceProcess],
    soak: Soak,
    rnd: random.Random,
    started: float,
    duration: float,
) -> None:
    """A seeded fault every 20-40 s until the run's end."""

    async def kill() -> str:
        i = rnd.randrange(len(live))
        live[i].kill()
        await asyncio.sleep(rnd.uniform(1, 5))
        live[i] = fleet.start(f"soak-r{len(soak.faults)}")
        return f"SIGKILL instance {i}, a new one started"

    async def broker() -> str:
        graceful = rnd.random() < 0.5
        await asyncio.to_thread(cluster.stop_kafka, graceful)
        await asyncio.sleep(rnd.uniform(3, 10))
        await asyncio.to_thread(cluster.start_kafka)
        return f"Kafka stopped ({'SIGTERM' if graceful else 'SIGKILL'}) and started"

    async def database() -> str:
        graceful = rnd.random() < 0.5
        await asyncio.to_thread(ctx.stack.stop_mongo, graceful)
        await asyncio.sleep(rnd.uniform(3, 10))
        await asyncio.to_thread(ctx.stack.start_mongo)
        return f"FerretDB stopped ({'SIGTERM' if graceful else 'SIGKILL'}) and started"

    def network(proxy: str, kind: str) -> Fault:
        async def fault() -> str:
            hold = rnd.uniform(4, 12)
            toxic: contextlib.AbstractAsyncContextManager[Any]
            if kind == "cut":
                toxic = api.cut_off(proxy)
            elif kind == "latency":
                toxic = api.latency(proxy, 1.0, 0.25)
            else:
                toxic = api.timeout(proxy)
            async with toxic:
                await asyncio.sleep(hold)
            return f"{proxy} {kind} for {hold:.0f} s"

        return fault

    kinds = ("cut", "latency", "half-open")
    menu: list[Fault] = [kill, kill, broker, database]
    menu += [network(p, k) for p in (KAFKA, MONGO) for k in kinds]
    # Every kind of fault at least once, whatever the seed: first one of each, in a seeded
    # order (the network ones with a seeded kind), then seeded draws from the whole menu.
    first: list[Fault] = [
        kill,
        broker,
        database,
        *(network(p, rnd.choice(kinds)) for p in (KAFKA, MONGO)),
    ]
    rnd.shuffle(first)
    while time.monotonic() - started < duration - 60:
        await asyncio.sleep(rnd.uniform(20, 40))
        at = time.monotonic() - started
        what = await (first.pop(0) if first else rnd.choice(menu))()
        soak.faults.append((round(at, 1), what))
        print(f"soak +{at:5.0f}s: {what}", flush=True)


async def _sample(
    env: Env, live: list[ServiceProcess], soak: Soak, started: float, stop: asyncio.Event
) -> None:
    """The group's lag and each live instance's RSS, every 5 s."""
    admin = AIOKafkaAdminClient(bootstrap_servers=env.kafka)
    probe = AIOKafkaConsumer(bootstrap_servers=env.kafka, enable_auto_commit=False)
    known: dict[Any, int] = {}
    async with _started(admin, probe):
        while not stop.is_set():
            with contextlib.suppress(Exception):  # the broker may be away: skip this sample
                lag = await _lag(admin, probe, env, known)
                rss = {
                    str(s.proc.pid): _rss_mib(s.proc.pid)
                    for s in live
                    if s.proc is not None and s.proc.poll() is None
                }
                soak.samples.append(Sample(round(time.monotonic() - started, 1), lag, rss))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 5)


@contextlib.asynccontextmanager
async def _started(admin: AIOKafkaAdminClient, probe: AIOKafkaConsumer) -> AsyncIterator[None]:
    await admin.start()
    await probe.start()
    try:
        yield
    finally:
        await probe.stop()
        await admin.close()


async def _lag(
    admin: AIOKafkaAdminClient, probe: AIOKafkaConsumer, env: Env, known: dict[Any, int]
) -> int:
    """The group's lag: end offsets minus committed ones. A partition the coordinator does not
    name (it does, right after a broker restart, for a moment) keeps its last known committed
    offset (`known`), rather than counting its whole log as lag."""
    described = await asyncio.wait_for(admin.describe_topics(list(env.topics.inbound)), 5)
    tps = [TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]]
    ends = await asyncio.wait_for(probe.end_offsets(tps), 5)
    committed = await asyncio.wait_for(admin.list_consumer_group_offsets(env.group), 5)
    known.update({tp: meta.offset for tp, meta in committed.items() if meta.offset >= 0})
    return sum(max(0, end - known.get(tp, 0)) for tp, end in ends.items())


def _rss_mib(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m faults.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--facts", type=int, default=100_000)
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    ctx = _context(False, OUT)
    try:
        soak = asyncio.run(run_soak(ctx, args.minutes, args.facts, args.instances, args.seed))
    finally:
        ctx.heal()
    table = report(soak)
    print(table)
    (OUT / f"soak-{args.seed}.md").write_text(table + "\n")
    series = {
        "faults": soak.faults,
        "samples": [s.__dict__ for s in soak.samples],
        "summary": soak.result.summary(),
    }
    (OUT / f"soak-{args.seed}.json").write_text(json.dumps(series, indent=1))
    plot(soak, OUT / "soak.png")
    print(f"soak: report in {OUT}", file=sys.stderr)
    bounded, _ = memory_verdict(soak.samples)
    return 0 if soak.result.ok and bounded else 1


if __name__ == "__main__":
    sys.exit(main())
