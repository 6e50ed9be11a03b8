"""Kafka's history changing under the service: the batch topic deleted and recreated while it
runs, and a move to another cluster whose offsets differ, with old events mirrored late.

Batch events are remembered by id, so the new ones apply wherever they sit and the old ones,
read again, change nothing (docs/design.md, "Batch events: applied once, by id")."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from devstack import LocalStack
from faults.runner import Ctx, Event, Fleet, RunResult, learners, new_env, split, verify
from schemas.events import event_adapter
from testkit.expect import certificate_ids_of
from testkit.harness import (
    Env,
    caught_up,
    create_topic,
    delete_topic,
    publish,
    read_all,
)
from testkit.streams import Stream, generate_stream
from testkit.world import World

__all__ = ["cluster_move", "topic_recreated"]


def _extensions(stream: Stream, tag: str) -> list[Event]:
    """A `batch.updated` per batch that moves its end to day 150 (late facts then count)."""
    batches = [e for e in stream.rules if e["type"] == "batch.created"]
    return [
        {
            "specversion": "1.0",
            "id": f"extend-{tag}-{i}",
            "source": "faults",
            "time": "2026-03-15T00:00:00Z",
            "type": "batch.updated",
            "data": {"batchId": b["data"]["batchId"], "endDate": "2026-05-31"},
        }
        for i, b in enumerate(batches)
    ]


def _world(*published: list[Event]) -> World:
    """The reference fold of everything published, in the order published (re-reads of a
    batch event are skipped by id there too)."""
    world = World()
    for events in published:
        for raw in events:
            world.apply(event_adapter.validate_python(raw))
    return world


async def topic_recreated(ctx: Ctx, env: Env, seed: int) -> RunResult:
    """`lms.batch.v1` deleted and recreated under a running service; then new updates and the
    old batch events restored into it: the updates apply, the restores change nothing."""
    env.extra["BATCH_SERVICE_METADATA_MAX_AGE_MS"] = "3000"
    result = RunResult()
    stream = generate_stream(seed=seed, batches=2, learners=learners(ctx, 30))
    rules, facts = split(stream, seed)
    half = len(facts) // 2
    extensions = _extensions(stream, "recreated")
    result.facts = 2 * len(rules) + len(facts) + len(extensions)
    async with Fleet(ctx, env, result) as fleet:
        svc = fleet.start("recreated")
        await svc.wait_consuming()
        await publish(env.kafka, env.prefix, [*rules, *facts[:half]])
        await caught_up(env)
        await delete_topic(env.kafka, env.topics.batch)
        await asyncio.sleep(4)  # a metadata refresh sees it gone
        await create_topic(env.kafka, env.topics.batch)
        result.faults += 1
        await publish(env.kafka, env.prefix, [*extensions, *rules, *facts[half:]])
        await verify(env, _world(rules, facts[:half], extensions, rules, facts[half:]), result)
        for marker in ('"topic_missing"', '"topic_available"'):
            if marker not in svc.log():
                result.problems.append(f"the service did not log {marker}")
        await fleet.stop_all(svc)
    return result


async def cluster_move(ctx: Ctx, env: Env, seed: int) -> RunResult:
    """The service moves to a second cluster (same database): there other batches come first,
    then new updates, then the whole old history mirrored late at offsets it never had."""
    result = RunResult()
    stream = generate_stream(seed=seed, batches=2, learners=learners(ctx, 30))
    rules, facts = split(stream, seed)
    half = len(facts) // 2
    extensions = _extensions(stream, "moved")
    others = _other_batches(rules, 9)
    result.facts = 2 * len(rules) + len(facts) + half + len(extensions) + len(others)
    with tempfile.TemporaryDirectory(prefix="faults-cluster-b-") as folder:
        cluster_b = LocalStack(stack_dir=Path(folder), build_dir=ctx.stack.layout.build_dir)
        await asyncio.to_thread(cluster_b.start_kafka)
        try:
            kafka_b = cluster_b.kafka_bootstrap()
            assert kafka_b is not None
            on_b = new_env(ctx, "cluster-move-b", prefix=env.prefix, db=env.db)
            on_b.kafka = kafka_b
            async with Fleet(ctx, env, result) as fleet:
                first = fleet.start("cluster-a")
                await first.wait_consuming()
                await publish(env.kafka, env.prefix, [*rules, *facts[:half]])
                await caught_up(env)
                await fleet.stop_all(first)
                on_a = certificate_ids_of(await read_all(env.kafka, env.topics.certificates))
            result.faults += 1
            async with Fleet(ctx, on_b, result) as fleet:
                second = fleet.start("cluster-b")
                await second.wait_consuming()
                mirrored = [*rules, *facts]  # the whole history, after the new updates
                await publish(kafka_b, env.prefix, [*others, *extensions, *mirrored])
                world = _world(rules, facts[:half], others, extensions, mirrored)
                await verify(on_b, world, result, published_elsewhere=tuple(on_a))
                await fleet.stop_all(second)
        finally:
            await asyncio.to_thread(cluster_b.stop_kafka, False)
    return result


def _other_batches(rules: list[Event], count: int) -> list[Event]:
    created = next(e for e in rules if e["type"] == "batch.created")
    return [
        {**created, "id": f"other-{i}", "data": {**created["data"], "batchId": f"other-{i}"}}
        for i in range(count)
    ]
