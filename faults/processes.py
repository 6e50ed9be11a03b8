"""Process and server faults: SIGKILL, Kafka and FerretDB restarts, instances joining and
dying, a broker down after a save, a paused consumer, retries exhausted."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import time

from faults.runner import (
    SESSION_TIMEOUT_S,
    Ctx,
    Fleet,
    RunResult,
    learners,
    pending_outbox,
    retries_logged,
    split,
    verify,
)
from testkit.harness import Env, publish
from testkit.streams import generate_stream

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
