"""The order in which one batch's events of one poll apply."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from services.ports import Received

__all__ = ["in_batch_order"]


def in_batch_order(items: list[Received]) -> list[Received]:
    """One batch's events of one poll in the order they apply: each partition's own order,
    and between partitions (a batch keyed elsewhere, a partition count changed) the event with
    the earlier `time` first. Events read in different polls apply in the order read."""
    queues = [sorted(group, key=lambda r: r.offset) for group in _by_partition(items).values()]
    ordered: list[Received] = []
    while queues:
        head = min(queues, key=lambda q: _time_of(q[0]))
        ordered.append(head.pop(0))
        queues = [q for q in queues if q]
    return ordered


def _by_partition(items: list[Received]) -> dict[tuple[str, int], list[Received]]:
    groups: dict[tuple[str, int], list[Received]] = defaultdict(list)
    for r in items:
        groups[(r.topic, r.partition)].append(r)
    return groups


def _time_of(r: Received) -> datetime:
    assert r.event is not None
    return r.event.time
