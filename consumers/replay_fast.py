"""`replay --into` an empty shadow database, at the speed of reading Kafka and folding in
memory: the rule topics first (to their end), then the learner facts, spilled to disk in
groups of batches (`consumers.replay_spill`, by the worker processes while this one reads),
each group folded once (`services.replaying`) and inserted in bulk, with its batches' counts.

Groups are folded in `FOLD_WORKERS` worker processes (`consumers.replay_fold`), a few ahead
of the one being inserted:
the fold is the replay's CPU, the inserts are the database's. Memory holds those few groups
(`GROUP_RECORDS` facts each; a worker hands back its documents encoded); the spill files
live in the system's temporary directory for the replay's duration. A checkpoint after each
group lets `--resume` skip the groups already inserted (the facts are read and spilled
again: reading Kafka is the cheap part).
"""

from __future__ import annotations

import asyncio
import functools
import sys
import tempfile
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from consumers.bootstrap import Service, make_consumer
from consumers.parsing import parse_record
from consumers.replay_fold import GroupFold, fold_spilled, worker_ready
from consumers.replay_reading import position_rows, read_partitions, resumed_bounds
from consumers.replay_spill import Spill, group_count, spill_polls
from consumers.worker_pool import worker_pool
from producers.kafka import kafka_errors
from producers.topics import partitions_of
from schemas.topics import TOPIC_OF_TYPE
from services.domain.counts import count_learners
from services.errors import KafkaUnavailable
from services.pipeline import Pipeline
from services.rules_snapshot import RulesSnapshot
from services.storage import InMemoryStore
from services.storage.batch_events import BATCH_EVENTS_COLLECTION

__all__ = ["ShadowReplay", "replay_into_shadow"]

# Reading to the end, larger fetches than the live service's (whose in-step polls want every
# partition in each fetch): 2 MiB a partition read the 1M bench stream in 12 s instead of 15.
_READ_FETCH = {"fetch_partition_bytes": 2 << 20, "fetch_max_bytes": 32 << 20}
_RULE_TYPES = ("course.published", "batch.created", "batch.updated", "batch.cancelled")
# What the rule events write: the batches, the courses and the batch events applied (which a
# live fold of later events reads). Marks are left out: counts are written with the groups.
_RULE_COLLECTIONS = ("batches", "courses", BATCH_EVENTS_COLLECTION)
_INSERT_CHUNK = 1000  # documents per save (the store splits them into bulk commands)
FOLD_WORKERS = 2  # groups folded at once, in worker processes, while one is inserted
# Groups handed to the workers ahead of the one being inserted: one more than the workers, so
# both keep folding while this process inserts (with as many as the workers, one sat idle).
_AHEAD = FOLD_WORKERS + 1


@dataclass
class ShadowReplay:
    """What a shadow replay did."""

    records: int = 0
    documents: int = 0
    bad_records: int = 0
    certificates: int = 0
    statuses: int = 0
    groups: int = 0
    done: bool = False
    counted: set[str] = field(default_factory=set)  # batches whose counts this run wrote


async def replay_into_shadow(
    service: Service,
    start: str | datetime,
    stop: asyncio.Event,
    checkpoint: str,
    resume: bool,
    keep_outboxes: bool = False,
) -> ShadowReplay:
    """Fold the inbound topics into the (empty, or resumed) shadow database of `service`.
    `keep_outboxes`: each document keeps the announcements it latched in its outbox, for a
    shadow that goes live (`--swap`): the service then publishes them (again: same ids)."""
    settings, topics, stores = service.settings, service.topics, service.stores
    rule_topics = sorted({topics.prefix + TOPIC_OF_TYPE[t] for t in _RULE_TYPES})
    learner_topics = [t for t in topics.inbound if t not in rule_topics]
    saved = await stores.checkpoints.load(checkpoint) if resume else None
    done_groups: set[int] = set(saved["groups_done"]) if saved else set()
    report = ShadowReplay()
    fetch = {k: max(v, getattr(settings, k)) for k, v in _READ_FETCH.items()}
    consumer = make_consumer(settings.model_copy(update=fetch), group_id=None)
    async with kafka_errors(KafkaUnavailable):
        await consumer.start()
    try:
        rule_tps = await partitions_of(settings, rule_topics)
        tps = await partitions_of(settings, learner_topics)
        # A resumed run reads to where the interrupted one was to stop, in as many groups:
        # facts published since would reach only the groups not yet done, and change the count.
        begin, end = await resumed_bounds(consumer, rule_tps + tps, start, saved, "begin")
    except BaseException:
        await consumer.stop()
        raise
    groups = saved.get("groups") if saved else None
    groups = groups or group_count({tp: begin[tp] for tp in tps}, {tp: end[tp] for tp in tps})

    async def save_checkpoint() -> None:
        state = {
            "groups_done": sorted(done_groups),
            "keepOutboxes": keep_outboxes,
            "groups": groups,
            "begin": position_rows(begin),
            "end": position_rows(end),
        }
        await stores.checkpoints.save(checkpoint, state | {"savedAt": time.time()})

    if saved is None:  # from here on, an interrupted run can be resumed, whatever it wrote
        await save_checkpoint()
    pool = worker_pool(FOLD_WORKERS)
    for _ in range(FOLD_WORKERS):
        pool.submit(worker_ready)  # spawned and importing while the topics are read
    try:
        # 1. The rules, to their end, through the service's own pipeline (few, and ordered):
        # in memory, then written at once (against the database, each event took several
        # round trips: 336 took 6 s). A resumed replay folds them into the shadow itself, whose
        # batches hold the counts of the groups done.
        memory = None if saved else InMemoryStore()
        rule_stores = memory.stores() if memory else stores
        pipeline = Pipeline(rule_stores, _NoAnnouncements(), clock=service.clock)
        async for batch in read_partitions(consumer, rule_tps, begin, end, stop):
            received = [parse_record(r, topics, settings.max_event_bytes) for r in batch]
            report.bad_records += sum(r.event is None for r in received)
            report.records += len(received)
            await service.retry.run(functools.partial(pipeline.handle, received))
        if stop.is_set():
            return report
        if memory is not None:
            await _copy_rules(memory, service)
        rules = await _rules(service)
        # 2. The learner facts, spilled by group of batches.
        with tempfile.TemporaryDirectory(prefix="batch-service-replay-") as spill_dir:
            spill = Spill(Path(spill_dir), groups)
            learner_facts = read_partitions(consumer, tps, begin, end, stop)
            records, bad = await spill_polls(pool, spill, learner_facts, settings.max_event_bytes)
            report.records, report.bad_records = report.records + records, report.bad_records + bad
            if stop.is_set():
                return report
            # 3. Each group folded once (beside the previous one's inserts), inserted, counted.
            report.groups = spill.count
            todo = [g for g in range(spill.count) if g not in done_groups]

            async def remember(group: int) -> None:
                done_groups.add(group)
                await save_checkpoint()
                print(
                    f"replay: group {len(done_groups)}/{spill.count} folded "
                    f"({report.documents:,} documents so far)",
                    file=sys.stderr,
                    flush=True,
                )

            folded_all = await _fold_groups(
                pool, service, spill, todo, rules, report, stop, remember, keep_outboxes
            )
            if not folded_all:
                return report
            # Batches of those groups that no learner names: counted too (all zero).
            folded = set(todo)
            for batch_id in rules.batches.keys() - report.counted:
                if spill.group_of_batch(batch_id) in folded:
                    zero = functools.partial(stores.counts.set_counts, batch_id, count_learners(()))
                    await service.retry.run(zero)
        await stores.checkpoints.drop(checkpoint)
        report.done = True
        return report
    finally:
        pool.shutdown(cancel_futures=True)  # a group being folded is finished first
        await consumer.stop()


async def _fold_groups(
    pool: Executor,
    service: Service,
    spill: Spill,
    groups: list[int],
    rules: RulesSnapshot,
    report: ShadowReplay,
    stop: asyncio.Event,
    remember: Callable[[int], Awaitable[None]],
    keep_outboxes: bool,
) -> bool:
    """Fold the groups in worker processes, a few ahead, and insert each as its fold is done
    (in order); True when all are in."""
    now, loop = service.clock.now(), asyncio.get_running_loop()
    packed_facts = service.settings.store_facts_packed
    folding: deque[tuple[int, asyncio.Future[GroupFold]]] = deque()
    pending = iter(groups)
    inserted = 0
    while not stop.is_set():
        while len(folding) < _AHEAD and (group := next(pending, None)) is not None:
            future = loop.run_in_executor(
                pool, fold_spilled, spill.paths(group), rules, now, packed_facts, keep_outboxes
            )
            folding.append((group, future))
        if not folding:
            break
        group, future = folding.popleft()
        fold = await future
        report.bad_records += fold.bad
        report.certificates += fold.certificates
        report.statuses += fold.statuses
        await _insert(service, fold, report)
        await remember(group)
        inserted += 1
    for _, future in folding:
        future.cancel()
    return inserted == len(groups)


async def _insert(service: Service, fold: GroupFold, report: ShadowReplay) -> None:
    """The group's documents, then its batches' counts (a batch is folded whole, in one
    group). On a resumed group some documents exist already, with the same content: left."""
    maintenance, counts = service.stores.maintenance, service.stores.counts
    for i in range(0, len(fold.encoded), _INSERT_CHUNK):
        chunk = fold.encoded[i : i + _INSERT_CHUNK]
        await service.retry.run(functools.partial(maintenance.insert_encoded, "enrolments", chunk))
    for batch_id, totals in fold.counts.items():
        await service.retry.run(functools.partial(counts.set_counts, batch_id, totals))
        report.counted.add(batch_id)
    report.documents += len(fold.encoded)


async def _copy_rules(memory: InMemoryStore, service: Service) -> None:
    """The rule phase's documents, from memory into the (empty) shadow."""
    for name in _RULE_COLLECTIONS:
        docs = (await memory.maintenance.dump(name)).values()
        await service.retry.run(
            functools.partial(service.stores.maintenance.replace_all, name, docs)
        )


async def _rules(service: Service) -> RulesSnapshot:
    documents = service.stores.documents
    batches = await documents.get_batches(await service.stores.maintenance.all_batch_ids())
    courses = await documents.get_courses({b.courseId for b in batches.values()})
    return RulesSnapshot(batches, courses)


class _NoAnnouncements:
    """A shadow announces nothing: rule events decide no announcement anyway."""

    async def announce(self, events: Any, traces: Any = None) -> None:
        pass

    async def publish_fact(self, event: Any) -> None:
        raise AssertionError("a replay folds facts; it never decides new ones")

    async def dead_letter(self, letters: Any) -> None:
        pass

    async def reachable(self) -> None:
        pass
